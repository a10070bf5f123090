/**
 * Bad uploads (issue #7): raw PUTs and multipart bodies that are truncated, oversized, full
 * of parts, with hostile field names or file names, and SQL scripts that are not text,
 * hold NUL bytes or one giant statement. A refused upload gets a SPEC §4 4xx and leaves
 * no row, no blob and no temporary file; an accepted one never costs a 5xx or a hang.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startTestServer, type TestServer } from "../../test/support/server.js";
import { assertRefused, rawRequest, type RawResponse } from "../../test/support/raw-http.js";
import { snapshotState, stateChanges, type StateSnapshot } from "../../test/support/state-snapshot.js";
import { packTar, sha256 } from "../images/images.fixtures.js";

let server: TestServer;
let counter = 0;
const auth = () => ({ authorization: `Bearer ${server.admin.token}` });

before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.close();
});

const BOUNDARY = "----ferry-bad-input-boundary";

type Part = { name: string; value?: string | Buffer; filename?: string; rawHeaders?: string };

function multipart(parts: Part[], options: { end?: boolean } = {}): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = part.rawHeaders ?? `Content-Disposition: form-data; name="${part.name}"${part.filename !== undefined ? `; filename="${part.filename}"` : ""}`;
    chunks.push(Buffer.from(`--${BOUNDARY}\r\n${disposition}\r\n${part.filename !== undefined ? "Content-Type: application/octet-stream\r\n" : ""}\r\n`));
    chunks.push(Buffer.from(part.value ?? ""));
    chunks.push(Buffer.from("\r\n"));
  }
  if (options.end !== false) chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

function postMultipart(body: Buffer, contentType = `multipart/form-data; boundary=${BOUNDARY}`): Promise<RawResponse> {
  return rawRequest(server.url, "POST", "/api/v1/artifacts", { headers: { ...auth(), "content-type": contentType }, body, timeoutMs: 60_000 });
}

function put(coordinates: string, body: Buffer | string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return rawRequest(server.url, "PUT", `/api/v1/artifacts/${coordinates}`, { headers: { ...auth(), "content-type": "application/octet-stream", ...headers }, body, timeoutMs: 120_000 });
}

/** Waits until the state equals `before` (a cut connection is noticed a moment later), or fails with the difference. */
async function assertUnchanged(before: StateSnapshot, label: string): Promise<void> {
  let changes: string[] = [];
  for (let attempt = 0; attempt < 50; attempt++) {
    changes = stateChanges(before, await snapshotState(server));
    if (!changes.length) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.deepEqual(changes, [], `${label} left something behind`);
}

async function assertMultipartRefused(body: Buffer, label: string, code?: string, contentType?: string): Promise<RawResponse> {
  const before = await snapshotState(server);
  const response = await postMultipart(body, contentType);
  assertRefused(response, "POST", label, code);
  await assertUnchanged(before, label);
  return response;
}

const unique = (label: string) => Buffer.from(`${label} ${++counter} ${Date.now()} ${Math.random()}`);
const fields = (component = "mp-comp", version = `1.0.${counter}`): Part[] => [
  { name: "component", value: component },
  { name: "version", value: version },
];

describe("multipart uploads", () => {
  test("bad fields or file names are refused before anything is stored", async () => {
    await assertMultipartRefused(multipart([...fields("Bad Component"), { name: "file", filename: "a.bin", value: unique("x") }]), "invalid component", "validation_failed");
    await assertMultipartRefused(multipart([...fields("mp", "../1"), { name: "file", filename: "a.bin", value: unique("x") }]), "traversal version", "validation_failed");
    for (const filename of ["../../etc/passwd", "..", ".hidden", "a/b.bin", "a\\b.bin", "caf\u00e9.bin", "txt.\u202eexe", "\u043e.bin", "x".repeat(300)]) {
      await assertMultipartRefused(multipart([...fields(), { name: "file", filename, value: unique("x") }]), `file name ${JSON.stringify(filename.slice(0, 30))}`, "validation_failed");
    }
    await assertMultipartRefused(multipart([...fields(), { name: "kind", value: "rootkit" }, { name: "file", filename: "a.bin", value: unique("x") }]), "unknown kind", "validation_failed");
    await assertMultipartRefused(multipart([...fields(), { name: "sqlDatabase", value: "a\u0000b" }, { name: "file", filename: "V1__x.sql", value: unique("select 1;") }]), "NUL in a field", "validation_failed");
    // A field after the file arrives too late to stop the file being read; it still leaves nothing.
    await assertMultipartRefused(multipart([...fields(), { name: "file", filename: "a.bin", value: unique("x") }, { name: "kind", value: "rootkit" }]), "bad field after the file");
    // The second file's name is bad: the first, already stored, goes too.
    await assertMultipartRefused(
      multipart([...fields(), { name: "file", filename: "good.bin", value: unique("first") }, { name: "file", filename: "../bad.bin", value: unique("second") }]),
      "second file name bad",
    );
  });

  test("field name attacks: __proto__, constructor, brackets, duplicates, overlong, unknown", async () => {
    for (const name of ["__proto__", "constructor", "prototype", "component[]", "x".repeat(300), "zzz_unknown"]) {
      await assertMultipartRefused(multipart([...fields(), { name, value: "1" }, { name: "file", filename: "a.bin", value: unique("x") }]), `field ${name.slice(0, 20)}`);
    }
    await assertMultipartRefused(multipart([...fields(), { name: "component", value: "other" }, { name: "file", filename: "a.bin", value: unique("x") }]), "duplicate component field");
    await assertMultipartRefused(multipart([...fields(), { name: "attachment", filename: "a.bin", value: unique("x") }]), "file under another field name", "invalid_multipart");
    await assertMultipartRefused(multipart([...fields(), { name: "kind", value: "k".repeat(70 * 1024) }, { name: "file", filename: "a.bin", value: unique("x") }]), "field value over the limit", "invalid_multipart");
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test("too many parts, fields or files", async () => {
    const manyFields = Array.from({ length: 30 }, (_, i) => ({ name: `f${i}`, value: "1" }));
    await assertMultipartRefused(multipart([...fields(), ...manyFields]), "30 fields", "invalid_multipart");
    const manyFiles = Array.from({ length: 101 }, (_, i) => ({ name: "file", filename: `f${i}.bin`, value: unique(`file ${i}`) }));
    await assertMultipartRefused(multipart([...fields(), ...manyFiles]), "101 files", "invalid_multipart");
    const manyParts = Array.from({ length: 200 }, (_, i) => ({ name: "file", filename: `p${i}.bin`, value: unique(`part ${i}`) }));
    await assertMultipartRefused(multipart([...fields(), ...manyParts]), "200 parts", "invalid_multipart");
  });

  test("malformed bodies: truncated mid-part, no closing boundary, no boundary, garbage, empty", async () => {
    const whole = multipart([...fields(), { name: "file", filename: "a.bin", value: Buffer.alloc(256 * 1024, 7) }]);
    await assertMultipartRefused(whole.subarray(0, whole.length - 1000), "cut in the middle of the file part", "invalid_multipart");
    await assertMultipartRefused(multipart([...fields(), { name: "file", filename: "a.bin", value: unique("x") }], { end: false }), "no closing boundary", "invalid_multipart");
    await assertMultipartRefused(whole, "no boundary parameter", "invalid_multipart", "multipart/form-data");
    await assertMultipartRefused(Buffer.from("this is not multipart at all"), "garbage", "invalid_multipart");
    await assertMultipartRefused(Buffer.alloc(0), "empty body", "invalid_multipart");
    await assertMultipartRefused(multipart([...fields()]), "no file part", "no_files");
    await assertMultipartRefused(multipart([{ name: "file", filename: "a.bin", value: unique("x") }, ...fields()]), "file before the fields", "fields_before_files");
    await assertMultipartRefused(
      Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="component"\r\n\r\nmp\r\n--${BOUNDARY}\r\nX-No-Disposition: 1\r\n\r\nbody\r\n--${BOUNDARY}--\r\n`),
      "a part without Content-Disposition",
    );
  });

  test("a connection cut in the middle of a multipart file leaves nothing", async () => {
    const before = await snapshotState(server);
    const head = multipart([...fields()], { end: false });
    const fileHead = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
    await cutConnection("POST", "/api/v1/artifacts", `multipart/form-data; boundary=${BOUNDARY}`, 10 * 1024 * 1024, Buffer.concat([head, fileHead, Buffer.alloc(512 * 1024, 1)]));
    await assertUnchanged(before, "cut multipart upload");
  });

  test("a bad image inside a multipart upload leaves neither its file nor its layers", async () => {
    const layer = unique("layer");
    const archive = await packTar([
      { name: "oci-layout", content: JSON.stringify({ imageLayoutVersion: "1.0.0" }) },
      { name: `blobs/sha256/${sha256(layer)}`, content: layer },
      { name: "index.json", content: "{not json" },
    ]);
    await assertMultipartRefused(multipart([...fields(), { name: "kind", value: "image" }, { name: "file", filename: "img_1.0.tar", value: archive }]), "bad image", "invalid_image");
  });
});

/** Sends headers and `sent` bytes of a body declared `declared` bytes long, then destroys the socket. */
function cutConnection(method: string, path: string, contentType: string, declared: number, sent: Buffer): Promise<void> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(url.port), url.hostname, () => {
      socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${server.admin.token}\r\nContent-Type: ${contentType}\r\nContent-Length: ${declared}\r\n\r\n`);
      socket.write(sent, () => setTimeout(() => socket.destroy(), 300));
    });
    socket.on("close", () => resolve());
    socket.on("error", reject);
  });
}

describe("raw uploads", () => {
  test("a PUT cut off mid-body leaves no artifact, blob or temporary file", async () => {
    const before = await snapshotState(server);
    await cutConnection("PUT", "/api/v1/artifacts/cut/1.0.0/cut.bin", "application/octet-stream", 50 * 1024 * 1024, Buffer.alloc(2 * 1024 * 1024, 3));
    await assertUnchanged(before, "cut PUT");
    const declared = await snapshotState(server);
    await cutConnection("PUT", "/api/v1/artifacts/cut/1.0.0/cut2.bin", "application/octet-stream", 8 * 1024 * 1024, Buffer.alloc(1024 * 1024, 4));
    await assertUnchanged(declared, "cut PUT with a declared checksum");
  });

  test("bad upload headers are refused before the body is stored", async () => {
    const cases: Array<[string, Record<string, string>, string]> = [
      ["checksum not hex", { "x-checksum-sha256": "z".repeat(64) }, "validation_failed"],
      ["checksum too long", { "x-checksum-sha256": "a".repeat(65) }, "validation_failed"],
      ["deploy without checksum", { "x-checksum-deploy": "true" }, "checksum_required"],
      ["deploy of an unknown blob", { "x-checksum-deploy": "true", "x-checksum-sha256": "c".repeat(64) }, "not_found"],
      ["unknown kind", { "x-artifact-kind": "rootkit" }, "validation_failed"],
      ["content-length over the limit", { "x-checksum-sha256": "d".repeat(64), "content-length": String(2 ** 53) }, "payload_too_large"],
    ];
    for (const [label, headers, code] of cases) {
      const before = await snapshotState(server);
      const response = await put(`hdr/1.0.${++counter}/file.bin`, headers["content-length"] ? "" : unique(label), headers);
      assertRefused(response, "PUT", label, code);
      await assertUnchanged(before, label);
    }
  });

  test("a wrong declared checksum leaves nothing, and so does an immutability conflict", async () => {
    let before = await snapshotState(server);
    assertRefused(await put("ck/1.0.0/a.bin", unique("content"), { "x-checksum-sha256": "e".repeat(64) }), "PUT", "checksum mismatch", "checksum_mismatch");
    await assertUnchanged(before, "checksum mismatch");
    assert.equal((await put("ck/1.0.0/b.bin", "original")).status, 201);
    before = await snapshotState(server);
    assertRefused(await put("ck/1.0.0/b.bin", unique("other content")), "PUT", "immutability conflict", "immutable");
    await assertUnchanged(before, "immutability conflict");
  });
});

describe("downloads with hostile conditional and range headers", () => {
  test("absurd, negative, reversed, multiple and empty ranges: 200, 206 or 416, never 5xx", async () => {
    const content = Buffer.from("0123456789".repeat(100));
    assert.equal((await put("dl/1.0.0/data.bin", content)).status, 201);
    const empty = await put("dl/1.0.0/empty.bin", "");
    assert.equal(empty.status, 201, empty.text);
    const ranges = [
      "bytes=99999999999999999999999-",
      "bytes=0-99999999999999999999999",
      "bytes=-99999999999999999999999",
      "bytes=-0",
      "bytes=5-1",
      "bytes=-",
      "bytes=1-2,3-4,5-6",
      `bytes=${Array.from({ length: 500 }, (_, i) => `${i}-${i}`).join(",")}`,
      "bytes=0x10-0x20",
      "bytes=1e3-2e3",
      "items=0-5",
      "bytes=\t0-5",
    ];
    for (const file of ["data.bin", "empty.bin"]) {
      for (const range of ranges) {
        for (const method of ["GET", "HEAD"]) {
          const response = await rawRequest(server.url, method, `/api/v1/artifacts/dl/1.0.0/${file}`, { headers: { ...auth(), range, "if-range": '"nonsense"', "if-none-match": "W/\"x\", *garbage*" } });
          assert.ok([200, 206, 416].includes(response.status), `${method} ${file} ${range.slice(0, 40)}: ${response.status} ${response.text.slice(0, 200)}`);
        }
        const ranged = await rawRequest(server.url, "GET", `/api/v1/artifacts/dl/1.0.0/${file}`, { headers: { ...auth(), range } });
        assert.ok([200, 206, 416].includes(ranged.status), `${file} ${range.slice(0, 40)}: ${ranged.status} ${ranged.text.slice(0, 200)}`);
        if (ranged.status === 416) assertRefused(ranged, "GET", `${file} ${range.slice(0, 40)}`, "range_not_satisfiable");
      }
    }
  });
});

describe("SQL uploads", () => {
  const sqlHeaders = { "x-sql-database": "orders", "x-sql-dialect": "postgresql" };
  const putSql = (name: string, body: Buffer | string, headers: Record<string, string> = sqlHeaders) => put(`sqlbad/1.0.${++counter}/${name}`, body, headers);

  test("bad SQL metadata is refused before anything is stored", async () => {
    const cases: Array<[string, string, Record<string, string>]> = [
      ["unknown dialect", "V1__a.sql", { "x-sql-database": "orders", "x-sql-dialect": "klingon" }],
      ["database with a slash", "V1__a.sql", { "x-sql-database": "../orders", "x-sql-dialect": "postgresql" }],
      ["unknown type", "V1__a.sql", { ...sqlHeaders, "x-sql-type": "yolo" }],
      ["bad order version", "script.sql", { ...sqlHeaders, "x-sql-type": "upgrade", "x-sql-order": "1.2.x" }],
      ["no database", "V1__a.sql", { "x-sql-dialect": "postgresql" }],
      ["latin-1 database name", "V1__a.sql", { "x-sql-database": "caf\u00e9", "x-sql-dialect": "postgresql" }],
    ];
    for (const [label, name, headers] of cases) {
      const before = await snapshotState(server);
      assertRefused(await putSql(name, "select 1;", headers), "PUT", label);
      await assertUnchanged(before, label);
    }
  });

  test("invalid UTF-8, NUL bytes and binary garbage are stored with a finding, never a 5xx", async () => {
    const invalid = Buffer.concat([Buffer.from("CREATE TABLE caf"), Buffer.from([0xe9, 0xff, 0xfe]), Buffer.from(" (id int);\n")]);
    for (const [label, body] of [
      ["invalid UTF-8", invalid],
      ["NUL bytes", Buffer.from("SELECT 1;\u0000\u0000DROP TABLE x;\u0000")],
      ["binary garbage", Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 7919) % 256))],
      ["only a BOM", Buffer.from([0xef, 0xbb, 0xbf])],
      ["empty", Buffer.alloc(0)],
    ] as const) {
      const response = await putSql(`V${++counter}__enc.sql`, body);
      assert.ok(response.status === 201 || (response.status >= 400 && response.status < 500), `${label}: ${response.status} ${response.text.slice(0, 300)}`);
      if (response.status === 201) {
        const script = await rawRequest(server.url, "GET", `/api/v1/sql-scripts/${response.body.sql.id}`, { headers: auth() });
        assert.ok(script.status < 500, `${label}: detail ${script.status}`);
      }
    }
  });

  test("one giant statement and a flood of tiny ones are linted within bounds", { timeout: 300_000 }, async () => {
    const values = Array.from({ length: 60_000 }, (_, i) => `(${i}, 'row ${i}')`).join(",");
    const giant = `INSERT INTO t (id, name) VALUES ${values};`;
    const deep = `SELECT ${"(".repeat(30_000)}1${")".repeat(30_000)};`;
    const flood = "DROP TABLE t;\n".repeat(300_000);
    for (const [label, body] of [
      ["one 1.5 MB INSERT", giant],
      ["30,000 nested parentheses", deep],
      ["300,000 DROP statements", flood],
    ] as const) {
      const started = Date.now();
      const response = await putSql(`V${++counter}__big.sql`, body);
      const seconds = (Date.now() - started) / 1000;
      assert.ok(response.status < 500, `${label}: ${response.status} ${response.text.slice(0, 300)}`);
      assert.ok(seconds < 60, `${label} took ${seconds} s`);
      // The server still answers promptly afterwards (the event loop was not held).
      const ping = await rawRequest(server.url, "GET", "/healthz", { timeoutMs: 10_000 });
      assert.equal(ping.status, 200);
      if (response.status === 201) {
        const detail = await rawRequest(server.url, "GET", `/api/v1/sql-scripts/${response.body.sql.id}`, { headers: auth() });
        assert.equal(detail.status, 200);
        const findings = JSON.stringify(detail.body.findings).length;
        assert.ok(findings < 1024 * 1024, `${label}: ${detail.body.findings.length} findings, ${findings} bytes of JSON in one row`);
      }
    }
  });
});
