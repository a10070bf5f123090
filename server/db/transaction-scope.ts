/**
 * Request-scoped transactions. An audited change and its audit event commit together or not
 * at all: the route table runs such a handler inside `inTransaction`, and every query made
 * through the transaction-aware client (the only one `openDatabase` hands out) while the
 * handler runs joins that transaction. Services keep taking one `Db` and never pass a
 * transaction client around, so a repository cannot forget to join.
 *
 * Inside a scope, `db.$transaction(...)` becomes a savepoint: the work is still atomic, and
 * a caller that catches its failure (a unique violation it expects, say) can go on with the
 * outer transaction, which PostgreSQL would otherwise have aborted.
 *
 * What must not be seen before the commit (a job handed to a worker, an agent's long poll
 * woken) registers with `afterCommit`; what must happen once the transaction has ended either
 * way (removing stored files that no committed row refers to) with `whenSettled`. Outside a
 * scope both run at once.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Prisma, PrismaClient } from "../generated/prisma/client.js";

type Hook = () => unknown;

interface Scope {
  root: PrismaClient;
  tx: Prisma.TransactionClient;
  /** False once the work has returned or thrown: a promise it left running falls back to the root client. */
  open: boolean;
  afterCommitHooks: Hook[];
  settledHooks: Hook[];
  savepoints: number;
}

export interface TransactionOptions {
  /** How long to wait for a connection (PGlite: for another transaction to end). */
  maxWaitMs?: number;
  /** How long the work may take before the transaction is rolled back. */
  timeoutMs?: number;
  /** Told about a hook that failed (after the commit: the change is committed whatever it says). */
  onHookError?: (error: unknown) => void;
}

const scopes = new AsyncLocalStorage<Scope>();
/** Reads the client behind a transaction-aware one. */
const ROOT = Symbol("ferry.db.root");

function openScope(root: PrismaClient): Scope | undefined {
  const scope = scopes.getStore();
  return scope?.open && scope.root === root ? scope : undefined;
}

function member(owner: object, prop: string | symbol): unknown {
  const value = Reflect.get(owner, prop);
  return typeof value === "function" ? value.bind(owner) : value;
}

/**
 * The client services use: outside a scope it is `root`; inside one, its model delegates and
 * raw queries are the scope's transaction's, and `$transaction` is a savepoint.
 */
export function transactionAware(root: PrismaClient): PrismaClient {
  return new Proxy(root, {
    get(target, prop) {
      if (prop === ROOT) return target;
      const scope = openScope(target);
      if (!scope) return member(target, prop);
      if (prop === "$transaction") return (work: unknown) => savepoint(scope, work);
      // What a transaction client lacks ($connect, $disconnect, $on) stays the root's.
      return prop in scope.tx ? member(scope.tx, prop) : member(target, prop);
    },
  });
}

function rootOf(db: PrismaClient): PrismaClient {
  return ((db as unknown as Record<symbol, PrismaClient | undefined>)[ROOT]) ?? db;
}

async function savepoint(scope: Scope, work: unknown): Promise<unknown> {
  const name = `ferry_sp_${++scope.savepoints}`;
  await scope.tx.$executeRawUnsafe(`SAVEPOINT ${name}`);
  try {
    let result: unknown;
    if (typeof work === "function") {
      result = await (work as (tx: Prisma.TransactionClient) => Promise<unknown>)(scope.tx);
    } else {
      // The array form: Prisma's queries are lazy, so awaiting them in order runs them in order.
      const results: unknown[] = [];
      for (const query of work as Promise<unknown>[]) results.push(await query);
      result = results;
    }
    await scope.tx.$executeRawUnsafe(`RELEASE SAVEPOINT ${name}`);
    return result;
  } catch (error) {
    await scope.tx.$executeRawUnsafe(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => {
      // The connection is gone or the transaction already ended: the outer one fails anyway.
    });
    throw error;
  }
}

/**
 * Runs `work` in one transaction that every query through a transaction-aware client joins,
 * then its `whenSettled` hooks and, after a commit, its `afterCommit` hooks (each in order,
 * outside the scope). Inside an open scope it is a savepoint of that one.
 */
export async function inTransaction<T>(db: PrismaClient, work: () => Promise<T>, options: TransactionOptions = {}): Promise<T> {
  const root = rootOf(db);
  const outer = openScope(root);
  if (outer) return (await savepoint(outer, work)) as T;
  const afterCommitHooks: Hook[] = [];
  const settledHooks: Hook[] = [];
  const runHooks = async (list: Hook[]) => {
    for (const hook of list) {
      try {
        await hook();
      } catch (error) {
        options.onHookError?.(error);
      }
    }
  };
  let result: T;
  try {
    result = await root.$transaction(
      async (tx) => {
        const scope: Scope = { root, tx, open: true, afterCommitHooks, settledHooks, savepoints: 0 };
        try {
          return await scopes.run(scope, work);
        } finally {
          scope.open = false;
        }
      },
      { maxWait: options.maxWaitMs ?? 15_000, timeout: options.timeoutMs ?? 60_000 },
    );
  } finally {
    await runHooks(settledHooks);
  }
  await runHooks(afterCommitHooks);
  return result;
}

/** Whether a request's transaction is open here (queries through a transaction-aware client join it). */
export function inTransactionScope(): boolean {
  return Boolean(scopes.getStore()?.open);
}

/** Queues `hook` on the open scope's list that `pick` names, or runs it now when there is no scope. */
async function deferToScope(pick: (scope: Scope) => Hook[], hook: Hook): Promise<void> {
  const scope = scopes.getStore();
  if (scope?.open) pick(scope).push(hook);
  else await hook();
}

/**
 * Runs `hook` once the current scope's transaction has committed (never, if it rolls back),
 * or now when there is no scope. Outside a scope its failure reaches the caller.
 */
export function afterCommit(hook: Hook): Promise<void> {
  return deferToScope((scope) => scope.afterCommitHooks, hook);
}

/**
 * Runs `hook` once the current scope's transaction has ended, committed or rolled back, or
 * now when there is no scope. Outside a scope its failure reaches the caller.
 */
export function whenSettled(hook: Hook): Promise<void> {
  return deferToScope((scope) => scope.settledHooks, hook);
}
