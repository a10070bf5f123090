/**
 * A real OpenSSH server (Debian's `openssh-server`) on a free loopback port for SSH
 * tests: a generated host key, key-only authentication against a temporary
 * authorized_keys, run in the foreground (`sshd -D -e -f <config>`). Needs root (it logs
 * in as the current user, and sshd must run as root to switch to it); installs
 * openssh-server with apt-get when missing.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import path from "node:path";

const SSHD = "/usr/sbin/sshd";

export interface TestSshd {
  host: string;
  port: number;
  user: string;
  /** An unencrypted OpenSSH private key authorized to log in. */
  privateKey: string;
  hostKeyFile: string;
  /** Kills every connection's session process (the listener stays): clients see the connection drop. */
  dropConnections(): void;
  /** Replaces the host key and restarts sshd on the same port. */
  rotateHostKey(): Promise<void>;
  close(): Promise<void>;
}

function installOpenSsh(): void {
  if (existsSync(SSHD)) return;
  for (let attempt = 0; attempt < 30; attempt++) {
    try {
      execFileSync("apt-get", ["install", "-y", "-q", "openssh-server"], { stdio: "pipe", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
      return;
    } catch (error) {
      const text = String((error as { stderr?: Buffer }).stderr ?? error);
      // Another engineer's apt holds the dpkg lock: wait and retry.
      if (!/lock/i.test(text)) throw new Error(`apt-get install openssh-server failed: ${text}`);
      execFileSync("sleep", ["2"]);
    }
  }
  throw new Error("apt-get install openssh-server: the dpkg lock stayed busy");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function keygen(file: string, comment: string): void {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file], { stdio: "pipe" });
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${stderr()}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on ${port}: ${stderr()}`);
}

export async function startSshd(): Promise<TestSshd> {
  if (process.getuid?.() !== 0) throw new Error("the sshd test server needs root");
  installOpenSsh();
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-sshd-"));
  const hostKeyFile = path.join(dir, "host_ed25519");
  const clientKey = path.join(dir, "client_ed25519");
  keygen(hostKeyFile, "ferry-test-host");
  keygen(clientKey, "ferry-test-client");
  const authorized = path.join(dir, "authorized_keys");
  writeFileSync(authorized, readFileSync(`${clientKey}.pub`), { mode: 0o600 });
  const port = await freePort();
  const config = path.join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKeyFile}`,
      `PidFile ${path.join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${authorized}`,
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "UsePAM no",
      // The temporary files live under /tmp, which StrictModes would reject.
      "StrictModes no",
      "Subsystem sftp internal-sftp",
      "LogLevel VERBOSE",
      "",
    ].join("\n"),
  );
  let stderr = "";
  let child: ChildProcess;
  const start = async () => {
    child = spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr!.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
    await waitForPort(port, child, () => stderr);
  };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
  await start();
  return {
    host: "127.0.0.1",
    port,
    user: userInfo().username,
    privateKey: readFileSync(clientKey, "utf8"),
    hostKeyFile,
    dropConnections() {
      // Each connection is served by a child of the listening sshd; SIGKILL drops its TCP connection.
      const children = execFileSync("sh", ["-c", `pgrep -P ${child.pid} || true`]).toString().split(/\s+/).filter(Boolean);
      for (const pid of children) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // already gone
        }
      }
    },
    async rotateHostKey() {
      await stop();
      rmSync(hostKeyFile, { force: true });
      rmSync(`${hostKeyFile}.pub`, { force: true });
      keygen(hostKeyFile, "ferry-test-host-rotated");
      await start();
    },
    async close() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
