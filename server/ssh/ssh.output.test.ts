/**
 * The remote agent's output over SSH becomes rows PostgreSQL must be able to store: a NUL
 * byte or a cut surrogate pair in a step's output or error must not fail the deployment's
 * progress writes.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { findTextProblem } from "../http/route.js";
import { eventsFromLine } from "./ssh.output.js";

test("plain and JSON output lines with NUL bytes or cut surrogate pairs become storable text", () => {
  const plain = eventsFromLine("stderr", "binary\u0000junk \ud83d");
  assert.deepEqual(plain, [{ type: "log", stream: "stderr", line: "binary\ufffdjunk \ufffd" }]);

  const output = eventsFromLine("stdout", JSON.stringify({ event: "output", stream: "stdout", component: "web", step: "unpack", seq: 1, line: "ELF\u0000\u0001" }));
  assert.equal(output.length, 1);
  assert.equal((output[0] as { line: string }).line, "[web] ELF\ufffd\u0001");

  const failed = eventsFromLine("stdout", JSON.stringify({ event: "step", status: "failed", component: "web", step: "smoke\u0000test", seq: 2, error: "exit 3: \u0000" }));
  assert.equal(failed.length, 2, JSON.stringify(failed));
  assert.equal(findTextProblem(failed), undefined, JSON.stringify(failed));
  assert.deepEqual(
    failed.map((event) => event.type),
    ["log", "step"],
  );
  const step = failed[1] as { name: string; message: string; status: string };
  assert.deepEqual([step.name, step.message, step.status], ["smoke\ufffdtest", "exit 3: \ufffd", "failed"]);
});
