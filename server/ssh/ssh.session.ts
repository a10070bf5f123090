/**
 * One SSH connection to a site (ssh2), optionally through a bastion (`forwardOut`), with
 * what deployments need: run a command and stream its output line by line, upload a
 * stream over SFTP (skipped when a file with the right sha256 is already there), read a
 * small file back. A connection that drops fails every pending operation with
 * SshConnectionLostError ("ssh connection lost: …"); keepalives detect a silent peer.
 */
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type ssh2 from "ssh2";
import type { ClientChannel, SFTPWrapper } from "ssh2";
import type { SshCredentials } from "../sites/sites.service.js";

export class SshConnectionLostError extends Error {
  constructor(reason: string) {
    super(`ssh connection lost: ${reason}`);
    this.name = "SshConnectionLostError";
  }
}

export class HostKeyMismatchError extends Error {
  constructor(host: string, expected: string, got: string) {
    super(`host key of ${host} changed: recorded ${expected}, offered ${got}; refusing to connect (if the change is expected, clear the recorded key in the site's ssh settings)`);
    this.name = "HostKeyMismatchError";
  }
}

/** Trust on first use: the fingerprint recorded for `host:port`, and recording a new one. */
export interface HostKeyStore {
  get(hostPort: string): Promise<string | null>;
  /** Records the fingerprint unless one is already there; returns the one now recorded. */
  record(hostPort: string, fingerprint: string): Promise<string>;
}

/** OpenSSH's `SHA256:…` fingerprint of a host key blob. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`;
}

/** Single-quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface ConnectOptions {
  hostKeys: HostKeyStore;
  readyTimeoutMs?: number;
  keepaliveMs?: number;
}

type Line = (stream: "stdout" | "stderr", line: string) => void;

export class SshSession {
  private lostReason: string | null = null;
  private readonly lostListeners = new Set<(error: SshConnectionLostError) => void>();
  private sftpClient: Promise<SFTPWrapper> | null = null;

  private constructor(
    private readonly conn: ssh2.Client,
    private readonly bastion: ssh2.Client | null,
  ) {
    for (const client of [conn, bastion]) {
      client?.on("error", (error: Error) => this.markLost(error.message));
      client?.on("close", () => this.markLost("the connection was closed"));
    }
  }

  static async open(creds: SshCredentials, options: ConnectOptions): Promise<SshSession> {
    const common = {
      privateKey: creds.privateKey,
      readyTimeout: options.readyTimeoutMs ?? 20_000,
      keepaliveInterval: options.keepaliveMs ?? 5_000,
      keepaliveCountMax: 3,
    };
    let bastion: ssh2.Client | null = null;
    let sock: NodeJS.ReadableStream | undefined;
    if (creds.bastion) {
      const via = creds.bastion;
      bastion = await connect({ ...common, host: via.host, port: via.port, username: via.user }, options.hostKeys, `bastion ${via.user}@${via.host}:${via.port}`);
      sock = await new Promise<ClientChannel>((resolve, reject) =>
        bastion!.forwardOut("127.0.0.1", 0, creds.host, creds.port, (error, channel) => (error ? reject(new Error(`bastion could not reach ${creds.host}:${creds.port}: ${error.message}`)) : resolve(channel))),
      ).catch((error: Error) => {
        bastion!.end();
        throw error;
      });
    }
    try {
      const conn = await connect({ ...common, host: creds.host, port: creds.port, username: creds.user, ...(sock ? { sock: sock as never } : {}) }, options.hostKeys, `${creds.user}@${creds.host}:${creds.port}`);
      return new SshSession(conn, bastion);
    } catch (error) {
      bastion?.end();
      throw error;
    }
  }

  /**
   * Runs `command` through the remote shell, handing every output line to `onLine`.
   * Resolves with the exit code (null when the remote process died of a signal); rejects
   * with SshConnectionLostError when the connection drops first. `signal` sends TERM to
   * the remote process (use `exec` in the command so the shell passes it on) and closes
   * the channel after `graceMs`.
   */
  exec(command: string, options: { onLine?: Line; signal?: AbortSignal; graceMs?: number } = {}): Promise<{ code: number | null; signal: string | null }> {
    return this.guard((resolve, reject) => {
      this.conn.exec(command, (error, channel) => {
        if (error) return reject(error);
        const flushOut = lineSplitter((line) => options.onLine?.("stdout", line));
        const flushErr = lineSplitter((line) => options.onLine?.("stderr", line));
        channel.on("data", (chunk: Buffer) => flushOut.push(chunk));
        channel.stderr.on("data", (chunk: Buffer) => flushErr.push(chunk));
        let exit: { code: number | null; signal: string | null } = { code: null, signal: null };
        channel.on("exit", (code: number | null, signalName?: string) => (exit = { code: code ?? null, signal: signalName ?? null }));
        channel.on("close", () => {
          flushOut.end();
          flushErr.end();
          // A channel closed because the connection died is not a command result.
          if (this.lostReason) return;
          resolve(exit);
        });
        options.signal?.addEventListener(
          "abort",
          () => {
            channel.signal("TERM");
            setTimeout(() => channel.close(), options.graceMs ?? 10_000).unref();
          },
          { once: true },
        );
      });
    });
  }

  /** A command's whole output (small outputs only) and exit code. */
  async run(command: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const { code } = await this.exec(command, { onLine: (stream, line) => (stream === "stdout" ? out : err).push(line) });
    return { code, stdout: out.join("\n"), stderr: err.join("\n") };
  }

  /** The sha256 of a remote file, or null when it does not exist. */
  async remoteSha256(remotePath: string): Promise<string | null> {
    const { stdout } = await this.run(`sha256sum -- ${shellQuote(remotePath)} 2>/dev/null || true`);
    const match = /^([0-9a-f]{64})\s/.exec(stdout);
    return match ? match[1]! : null;
  }

  /** Streams `source` to `remotePath` (via a temporary name, renamed when complete). */
  async upload(source: Readable, remotePath: string, mode = 0o600): Promise<void> {
    const sftp = await this.sftp();
    const partial = `${remotePath}.partial`;
    await this.guard<void>((resolve, reject) => {
      pipeline(source, sftp.createWriteStream(partial, { mode })).then(resolve, reject);
    });
    const { code, stderr } = await this.run(`mv -f -- ${shellQuote(partial)} ${shellQuote(remotePath)}`);
    if (code !== 0) throw new Error(`could not move ${partial} into place: ${stderr}`);
  }

  /** Uploads unless a file with `sha256` is already at `remotePath`; true when it uploaded. */
  async uploadIfChanged(open: () => Promise<Readable>, remotePath: string, sha256: string, mode = 0o600): Promise<boolean> {
    if ((await this.remoteSha256(remotePath)) === sha256) return false;
    await this.upload(await open(), remotePath, mode);
    const landed = await this.remoteSha256(remotePath);
    if (landed !== sha256) throw new Error(`uploaded ${remotePath} but its sha256 is ${landed ?? "unreadable"}, expected ${sha256}`);
    return true;
  }

  /** Reads a remote file of at most `maxBytes`; null when it does not exist. */
  async readFile(remotePath: string, maxBytes: number): Promise<Buffer | null> {
    const sftp = await this.sftp();
    return this.guard<Buffer | null>((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const stream = sftp.createReadStream(remotePath);
      stream.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          stream.destroy();
          reject(new Error(`${remotePath} is larger than ${maxBytes} bytes`));
        } else chunks.push(chunk);
      });
      stream.on("error", (error: Error & { code?: number }) => (error.code === 2 ? resolve(null) : reject(error)));
      stream.on("end", () => resolve(Buffer.concat(chunks)));
    });
  }

  close(): void {
    this.lostReason ??= "closed by Ferry";
    this.conn.end();
    this.bastion?.end();
  }

  private sftp(): Promise<SFTPWrapper> {
    return (this.sftpClient ??= this.guard<SFTPWrapper>((resolve, reject) => this.conn.sftp((error, sftp) => (error ? reject(error) : resolve(sftp)))));
  }

  /** Runs an operation that fails with SshConnectionLostError if the connection drops before it settles. */
  private guard<T>(body: (resolve: (value: T) => void, reject: (error: Error) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.lostReason) return reject(new SshConnectionLostError(this.lostReason));
      const onLost = (error: SshConnectionLostError) => reject(error);
      this.lostListeners.add(onLost);
      const settle =
        <A>(fn: (a: A) => void) =>
        (a: A) => {
          this.lostListeners.delete(onLost);
          fn(a);
        };
      body(settle(resolve), settle(reject));
    });
  }

  private markLost(reason: string): void {
    if (this.lostReason) return;
    this.lostReason = reason;
    const error = new SshConnectionLostError(reason);
    for (const listener of [...this.lostListeners]) listener(error);
    this.lostListeners.clear();
  }
}

function connect(config: ssh2.ConnectConfig, hostKeys: HostKeyStore, label: string): Promise<ssh2.Client> {
  // Loaded on the first SSH connection, not at start: ssh2 and its native add-ons cost
  // every server ~4 MiB of RSS, and most never deploy over SSH (see sites.secrets.ts too).
  const { Client } = createRequire(import.meta.url)("ssh2") as typeof ssh2;
  const client = new Client();
  const hostPort = `${config.host}:${config.port}`;
  let refused: Error | null = null;
  return new Promise((resolve, reject) => {
    // The once("error") listener stays: after "ready" a late call to reject is a no-op, and
    // the session's own listeners report the error.
    client.once("ready", () => resolve(client));
    client.once("error", (error: Error) => reject(refused ?? new Error(`ssh to ${label} failed: ${error.message}`)));
    client.connect({
      ...config,
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
        const offered = fingerprint(key);
        hostKeys
          .get(hostPort)
          .then(async (known) => {
            const trusted = known ?? (await hostKeys.record(hostPort, offered));
            if (trusted !== offered) {
              refused = new HostKeyMismatchError(hostPort, trusted, offered);
              return verify(false);
            }
            verify(true);
          })
          .catch((error: Error) => {
            refused = error;
            verify(false);
          });
      },
    });
  });
}

function lineSplitter(emit: (line: string) => void) {
  let rest = "";
  return {
    push(chunk: Buffer) {
      const lines = (rest + chunk.toString("utf8")).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) emit(line.replace(/\r$/, ""));
    },
    end() {
      if (rest) emit(rest);
      rest = "";
    },
  };
}
