/**
 * The SSH transport against a real OpenSSH server on loopback (key-only auth), with the
 * site's stored key and the site-backed host key store: upload skipped when the sha256
 * matches, output streamed line by line, a bastion hop, a dropped connection failing
 * clearly, and a changed host key refused.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { siteHostKeys } from "../../server/ssh/ssh.host-keys.js";
import { HostKeyMismatchError, SshConnectionLostError, SshSession } from "../../server/ssh/ssh.session.js";
import type { SshCredentials } from "../../server/sites/sites.service.js";
import { createSite } from "../../server/deployments/deployments.fixtures.js";
import { startSshd, type TestSshd } from "../support/sshd.js";
import { startTestServer, type TestServer } from "../support/server.js";

let sshd: TestSshd;
let server: TestServer;
let siteId: string;
let creds: SshCredentials;
const remote = mkdtempSync(path.join(tmpdir(), "ferry-ssh-remote-"));

const SCRIPT = `#!/bin/sh
echo "step one"
echo "to stderr" >&2
printf 'no newline at the end'
exit 7
`;

before(async () => {
  sshd = await startSshd();
  server = await startTestServer();
  const operator = await server.user(["operator"]);
  const site = await createSite(server, operator, "acme", {
    name: "ssh-plant",
    connectivity: "ssh",
    ssh: { host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.privateKey },
  });
  siteId = site.id;
  creds = (await server.ctx.sites.sshCredentials(siteId))!;
});
after(async () => {
  await server?.close();
  await sshd?.close();
  rmSync(remote, { recursive: true, force: true });
});

const open = (c: SshCredentials = creds) => SshSession.open(c, { hostKeys: siteHostKeys(server.ctx.db, siteId), readyTimeoutMs: 10_000 });

describe("ssh transport", () => {
  it("uploads a script once (sha256 skip), runs it and streams its output", async () => {
    const session = await open();
    try {
      const target = path.join(remote, "script.sh");
      const sha = createHash("sha256").update(SCRIPT).digest("hex");
      assert.equal(await session.uploadIfChanged(async () => Readable.from([Buffer.from(SCRIPT)]), target, sha, 0o700), true);
      assert.equal(readFileSync(target, "utf8"), SCRIPT);
      assert.equal(statSync(target).mode & 0o777, 0o700);
      let opened = 0;
      const again = await session.uploadIfChanged(async () => (opened++, Readable.from([Buffer.from(SCRIPT)])), target, sha, 0o700);
      assert.equal(again, false);
      assert.equal(opened, 0, "a file with the right sha256 is not uploaded again");

      const lines: string[] = [];
      const exit = await session.exec(`exec ${target}`, { onLine: (stream, line) => lines.push(`${stream}: ${line}`) });
      assert.equal(exit.code, 7);
      assert.deepEqual(lines.filter((l) => l.startsWith("stdout")), ["stdout: step one", "stdout: no newline at the end"]);
      assert.deepEqual(lines.filter((l) => l.startsWith("stderr")), ["stderr: to stderr"]);
      assert.equal(await session.readFile(path.join(remote, "missing.json"), 1024), null);
      assert.equal((await session.readFile(target, 1024))!.toString(), SCRIPT);
    } finally {
      session.close();
    }
    const site = await server.call("GET", `/api/v1/sites/${siteId}`, { token: server.admin.token });
    assert.match(site.text, /ssh-host-key-recorded/);
    const stored = (await server.ctx.db.site.findUnique({ where: { id: siteId } }))!.ssh as { knownHosts: Record<string, string> };
    assert.match(stored.knownHosts[`${sshd.host}:${sshd.port}`]!, /^SHA256:/);
  });

  it("reaches the host through a bastion (forwardOut)", async () => {
    const session = await open({ ...creds, host: "localhost", bastion: { host: sshd.host, port: sshd.port, user: sshd.user } });
    try {
      const { code, stdout } = await session.run("echo through the bastion");
      assert.equal(code, 0);
      assert.equal(stdout, "through the bastion");
    } finally {
      session.close();
    }
  });

  it("fails clearly when the connection is lost mid-command", async () => {
    const session = await open();
    try {
      const lines: string[] = [];
      let dropped = false;
      const running = session.exec("echo started; sleep 30; echo never", {
        onLine: (_stream, line) => {
          lines.push(line);
          if (line === "started" && !dropped) {
            dropped = true;
            sshd.dropConnections();
          }
        },
      });
      await assert.rejects(running, (error: Error) => error instanceof SshConnectionLostError && /^ssh connection lost: /.test(error.message));
      assert.deepEqual(lines, ["started"]);
      await assert.rejects(session.run("true"), SshConnectionLostError);
    } finally {
      session.close();
    }
  });

  it("refuses a host whose key changed since it was recorded", async () => {
    await sshd.rotateHostKey();
    await assert.rejects(open(), (error: Error) => error instanceof HostKeyMismatchError && /host key of .* changed/.test(error.message));
  });
});
