/**
 * The job system against the real database of the test profile (PGlite or PostgreSQL),
 * on both transports: in process, and BullMQ on the Redis at FERRY_TEST_REDIS_URL
 * (default redis://127.0.0.1:6379) with a fresh key prefix per test. Several JobQueue
 * instances on one database stand for several processes.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { startTestServer, type TestServer } from "../../test/support/server.js";
import { createLogger } from "../logger.js";
import { createJobQueue, type JobContext, type JobQueue, type JobQueueOptions } from "./index.js";

const REDIS_URL = process.env.FERRY_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const logger = createLogger(process.env.FERRY_TEST_LOG_LEVEL ?? "silent");

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const uniqueType = (name: string) => `test.${name}.${randomBytes(4).toString("hex")}`;

for (const transport of ["in-process", "bullmq"] as const) {
  describe(`jobs (${transport})`, () => {
    let server: TestServer;
    const queues: JobQueue[] = [];
    const prefixes: string[] = [];
    let prefix = "";

    before(async () => {
      server = await startTestServer();
      if (transport === "bullmq") {
        const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
        try {
          assert.equal(await redis.ping(), "PONG");
        } finally {
          redis.disconnect();
        }
      }
    });

    after(async () => {
      await Promise.all(queues.map((queue) => queue.stop()));
      if (prefixes.length) {
        const redis = new Redis(REDIS_URL);
        for (const p of prefixes) {
          const keys = await redis.keys(`${p}:*`);
          if (keys.length) await redis.del(...keys);
        }
        redis.disconnect();
      }
      await server.close();
    });

    /** A queue standing for one process; queues made in one test share a BullMQ prefix. */
    function makeQueue(options: JobQueueOptions = {}): JobQueue {
      const queue = createJobQueue({ REDIS_URL: transport === "bullmq" ? REDIS_URL : undefined }, server.ctx.db, logger, {
        pollMs: 50,
        sweepMs: 100,
        prefix,
        stopGraceMs: 2_000,
        ...options,
      });
      queues.push(queue);
      return queue;
    }

    function freshPrefix(): void {
      prefix = `ferrytest-${randomBytes(5).toString("hex")}`;
      prefixes.push(prefix);
    }

    const job = (id: string) => server.ctx.db.job.findUnique({ where: { id } });

    it("runs an enqueued job once and records success", async () => {
      freshPrefix();
      const queue = makeQueue({ processId: "p-once" });
      const type = uniqueType("once");
      const runs: Array<{ payload: unknown; attempt: number }> = [];
      queue.register<{ n: number }>(type, async (payload, ctx) => {
        runs.push({ payload, attempt: ctx.attempt });
      });
      await queue.startWorking();
      const id = await queue.enqueue(type, { n: 42 });
      const row = await waitFor("success", async () => ((await job(id))?.status === "succeeded" ? job(id) : undefined));
      await sleep(300);
      assert.deepEqual(runs, [{ payload: { n: 42 }, attempt: 1 }]);
      assert.equal(row?.attempts, 1);
      assert.equal(row?.lockedBy, "p-once");
      assert.ok(row?.finishedAt);
      await queue.check();
    });

    it("reuses a job by id unless it failed", async () => {
      freshPrefix();
      const queue = makeQueue();
      const type = uniqueType("idem");
      let runs = 0;
      let fail = true;
      // The first run must not fail before the second concurrent enqueue has arrived:
      // a failed job is (rightly) reset by a later enqueue of its id.
      let bothEnqueued!: () => void;
      const enqueued = new Promise<void>((resolve) => (bothEnqueued = resolve));
      queue.register(type, async () => {
        await enqueued;
        runs++;
        if (fail) throw new Error("first time fails");
      }, { maxAttempts: 1 });
      await queue.startWorking();
      const jobId = `bundle-${randomBytes(4).toString("hex")}`;
      const [a, b] = await Promise.all([queue.enqueue(type, { v: 1 }, { jobId }), queue.enqueue(type, { v: 2 }, { jobId })]);
      bothEnqueued();
      assert.equal(a, jobId);
      assert.equal(b, jobId);
      await waitFor("failure", async () => (await job(jobId))?.status === "failed");
      assert.equal(runs, 1);
      assert.equal(await server.ctx.db.job.count({ where: { id: jobId } }), 1);

      fail = false;
      assert.equal(await queue.enqueue(type, { v: 3 }, { jobId }), jobId);
      const row = await waitFor("success after reset", async () => ((await job(jobId))?.status === "succeeded" ? job(jobId) : undefined));
      assert.deepEqual(row?.payload, { v: 3 });
      assert.equal(row?.attempts, 1);
      assert.equal(await queue.enqueue(type, { v: 4 }, { jobId }), jobId);
      await sleep(300);
      assert.equal(runs, 2, "a succeeded job is reused, not run again");
      await assert.rejects(queue.enqueue(type, {}, { jobId: "12345" }), /invalid job id/);
      await assert.rejects(queue.enqueue(type, {}, { jobId: "a:b" }), /invalid job id/);
    });

    it("retries a failing handler up to maxAttempts, then records the failure", async () => {
      freshPrefix();
      const queue = makeQueue();
      const type = uniqueType("retry");
      const attempts: number[] = [];
      const times: number[] = [];
      queue.register(type, async (_payload, ctx) => {
        attempts.push(ctx.attempt);
        times.push(Date.now());
        throw new Error(`boom ${ctx.attempt}`);
      }, { maxAttempts: 3, backoffMs: 100 });
      await queue.startWorking();
      const id = await queue.enqueue(type, {});
      const row = await waitFor("failure", async () => ((await job(id))?.status === "failed" ? job(id) : undefined));
      await sleep(400);
      assert.deepEqual(attempts, [1, 2, 3]);
      assert.equal(row?.attempts, 3);
      assert.equal(row?.lastError, "boom 3");
      assert.ok(times[1]! - times[0]! >= 90, "first retry waits the backoff");
      assert.ok(times[2]! - times[1]! >= 190, "second retry waits twice as long");
    });

    it("two processes racing for 50 jobs run each exactly once", async () => {
      freshPrefix();
      const type = uniqueType("race");
      const ran = new Map<string, string[]>();
      const handlerFor = (processId: string) => async (_payload: unknown, ctx: JobContext) => {
        ran.set(ctx.jobId, [...(ran.get(ctx.jobId) ?? []), processId]);
        await sleep(5);
      };
      const a = makeQueue({ processId: "process-a" });
      const b = makeQueue({ processId: "process-b" });
      a.register(type, handlerFor("process-a"), { concurrency: 4 });
      b.register(type, handlerFor("process-b"), { concurrency: 4 });
      await Promise.all([a.startWorking(), b.startWorking()]);
      const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).enqueue(type, { i })));
      await waitFor("all 50 jobs", async () => (await server.ctx.db.job.count({ where: { type, status: "succeeded" } })) === 50, 60_000);
      await sleep(300);
      assert.equal(ran.size, 50);
      for (const id of ids) assert.equal(ran.get(id)?.length, 1, `job ${id} ran ${ran.get(id)?.length} times`);
      const rows = await server.ctx.db.job.findMany({ where: { type } });
      assert.ok(rows.every((row) => row.attempts === 1));
      for (const row of rows) assert.equal(row.lockedBy, ran.get(row.id)![0]);
    });

    it("takes over a job whose lease expired and leaves a live lease alone", async () => {
      freshPrefix();
      const type = uniqueType("stale");
      const db = server.ctx.db;
      // As a killed process leaves them: running, claimed, no heartbeat for a minute.
      const stale = await db.job.create({ data: { type, payload: { which: "stale" }, status: "running", attempts: 1, lockedBy: "dead", lockedAt: new Date(Date.now() - 60_000) } });
      const live = await db.job.create({ data: { type, payload: { which: "live" }, status: "running", attempts: 1, lockedBy: "alive", lockedAt: new Date() } });
      // Its process used its last attempt: failed, not run a fourth time.
      const exhausted = await db.job.create({ data: { type, payload: { which: "exhausted" }, status: "running", attempts: 3, lockedBy: "dead", lockedAt: new Date(Date.now() - 60_000) } });
      // A row Redis never heard of (or lost): the BullMQ sweep must add it.
      const orphan = await db.job.create({ data: { type, payload: { which: "orphan" }, status: "queued" } });
      const runs: Array<{ which: string; attempt: number }> = [];
      const abandoned: Array<{ which: string; reason: string }> = [];
      const queue = makeQueue({ processId: "rescuer", leaseMs: 5_000 });
      queue.register<{ which: string }>(type, async (payload, ctx) => {
        runs.push({ which: payload.which, attempt: ctx.attempt });
      }, { maxAttempts: 3, onAbandoned: async (payload, reason) => void abandoned.push({ which: payload.which, reason }) });
      await queue.startWorking();
      await waitFor("stale and orphan jobs", async () => (await db.job.count({ where: { id: { in: [stale.id, orphan.id] }, status: "succeeded" } })) === 2);
      await waitFor("exhausted job", async () => (await job(exhausted.id))?.status === "failed");
      await sleep(500);
      assert.deepEqual(runs.sort((x, y) => x.which.localeCompare(y.which)), [
        { which: "orphan", attempt: 1 },
        { which: "stale", attempt: 2 },
      ]);
      assert.equal((await job(stale.id))?.lockedBy, "rescuer");
      assert.match((await job(exhausted.id))?.lastError ?? "", /lease expired/);
      // Its owner hears of it once, to end what the job drove (nobody else would).
      assert.equal(abandoned.length, 1, JSON.stringify(abandoned));
      assert.equal(abandoned[0]!.which, "exhausted");
      assert.match(abandoned[0]!.reason, /stopped without finishing it/);
      const liveRow = await job(live.id);
      assert.equal(liveRow?.status, "running");
      assert.equal(liveRow?.lockedBy, "alive");
    });

    it("heartbeats keep a long job's lease, so another process does not take it over", async () => {
      freshPrefix();
      const type = uniqueType("long");
      let runs = 0;
      // The job outlives its lease several times over; only heartbeats keep it. The lease is
      // long enough that a loaded CI machine's slow heartbeat write does not lose it.
      const handler = async (_payload: unknown, ctx: JobContext) => {
        runs++;
        await sleep(4_000);
        ctx.signal.throwIfAborted();
      };
      const a = makeQueue({ processId: "long-a", leaseMs: 1_500 });
      const b = makeQueue({ processId: "long-b", leaseMs: 1_500 });
      a.register(type, handler);
      b.register(type, handler);
      await Promise.all([a.startWorking(), b.startWorking()]);
      const id = await a.enqueue(type, {});
      await waitFor("success", async () => (await job(id))?.status === "succeeded");
      assert.equal(runs, 1);
      assert.equal((await job(id))?.attempts, 1);
    });

    if (transport === "bullmq") {
      it("stop() ends while Redis has just dropped the worker's blocking connection", { timeout: 60_000 }, async () => {
        freshPrefix();
        const type = uniqueType("dropped");
        const queue = makeQueue({ processId: "dropped" });
        queue.register(type, async () => {});
        await queue.startWorking();
        // BullMQ names a worker's blocking connection "<prefix>:<base64 of the queue name>".
        const name = `${prefix}:${Buffer.from(type).toString("base64")}`;
        const redis = new Redis(REDIS_URL);
        try {
          const clientId = await waitFor("the worker's blocking connection", async () => {
            const line = ((await redis.client("LIST")) as string).split("\n").find((l) => l.includes(` name=${name} `) && l.includes("cmd=bzpopmin"));
            return line ? /^id=(\d+)/.exec(line)?.[1] : undefined;
          });
          // Dropped as by a Redis restart, a proxy or a watchdog reset: ioredis reconnects after a delay.
          await redis.client("KILL", "ID", clientId);
        } finally {
          redis.disconnect();
        }
        const started = Date.now();
        await queue.stop();
        assert.ok(Date.now() - started < 10_000, `stop() took ${Date.now() - started} ms`);
        const id = await makeQueue({ processId: "after-drop" }).enqueue(type, {});
        assert.equal((await job(id))?.status, "queued", "the job system is still usable");
      });
    }

    it("stop() aborts a running job and gives its claim back; the next process runs it", async () => {
      freshPrefix();
      const type = uniqueType("stop");
      let sawAbort = false;
      const first = makeQueue({ processId: "first" });
      first.register(type, async (_payload, ctx) => {
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
        sawAbort = true;
        throw ctx.signal.reason;
      });
      await first.startWorking();
      const id = await first.enqueue(type, {});
      await waitFor("running", async () => (await job(id))?.status === "running");
      await first.stop();
      assert.ok(sawAbort);
      const released = await job(id);
      assert.equal(released?.status, "queued");
      assert.equal(released?.attempts, 0, "an interrupted attempt is not counted");
      assert.equal(released?.lockedBy, null);

      const attempts: number[] = [];
      const second = makeQueue({ processId: "second" });
      second.register(type, async (_payload, ctx) => {
        attempts.push(ctx.attempt);
      });
      await second.startWorking();
      await waitFor("success", async () => (await job(id))?.status === "succeeded");
      assert.deepEqual(attempts, [1]);
    });
  });
}
