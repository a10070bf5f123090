/**
 * Runs s3rver as its own process, for CI and for manual runs against a separate S3 endpoint:
 *   npx tsx test/support/s3rver-main.ts --port 9000 --dir /tmp/s3rver [--address 127.0.0.1]
 * then FERRY_TEST_S3_ENDPOINT=http://127.0.0.1:9000. Credentials: S3RVER / S3RVER.
 */
import { mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { loadS3rver } from "./s3.js";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "9000" },
    dir: { type: "string" },
    address: { type: "string", default: "127.0.0.1" },
  },
});
if (!values.dir) {
  console.error("usage: s3rver-main.ts --dir <data directory> [--port 9000] [--address 127.0.0.1]");
  process.exit(2);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid --port ${values.port}`);
  process.exit(2);
}
mkdirSync(values.dir, { recursive: true });

const S3rver = loadS3rver();
const server = new S3rver({ address: values.address ?? "127.0.0.1", port, directory: values.dir, silent: true });
const bound = await server.run();
console.log(`s3rver listening on http://${bound.address}:${bound.port} (data in ${values.dir})`);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
