/**
 * What the agent sends is text the server takes: command output with NUL bytes or a line
 * cut inside a surrogate pair must not get a deployment's events (and its final status)
 * refused. Checked with the server's own input check.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { findTextProblem } from "../server/http/route.js";
import { sendableJson, sendableText } from "./wire-text.js";

test("NUL and lone surrogates become U+FFFD; everything else is kept", () => {
  assert.equal(sendableText("a\u0000b"), "a\ufffdb");
  assert.equal(sendableText("cut \ud83d"), "cut \ufffd");
  assert.equal(sendableText("\ude00 tail"), "\ufffd tail");
  const fine = "tabs\tand\u0001controls, ünïcödé, 😀 and \u202e are kept";
  assert.equal(sendableText(fine), fine);
});

test("a whole event batch with binary output passes the server's input check", () => {
  const binary = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x02, 0x01, 0x00, 0xff]).toString("utf8");
  const line = `${"😀".repeat(3)}${binary}`.slice(0, 8); // cut inside a pair
  const body = { events: [{ type: "log", stream: "stdout", line, at: "2026-11-23T00:00:00.000Z" }], status: "failed", error: `step said ${binary}`, report: { steps: [{ ["key\u0000"]: "v" }] } };
  assert.ok(findTextProblem(body), "the raw body is what the server refuses");
  const sent = JSON.parse(sendableJson(body));
  assert.equal(findTextProblem(sent), undefined);
  assert.equal(sent.events[0].stream, "stdout");
  assert.equal(sent.status, "failed");
  assert.deepEqual(Object.keys(sent.report.steps[0]), ["key\ufffd"]);
});
