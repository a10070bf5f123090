/**
 * Bundle download for `ferry-agent run`: into `<workdir>/downloads/<sha256>.tar.partial`,
 * resumed with `Range: bytes=<have>-` after an interruption (a killed agent or a dropped
 * connection), then checked against the size and sha256 the server announced and renamed
 * to `<sha256>.tar`. A finished `.tar` with the right checksum is reused as it is.
 * Aborting `signal` (the agent stops, or the server cancelled the deployment) aborts the
 * request in flight and settles only once the file is closed, so the `.partial` file holds
 * whole bytes of that bundle and nothing writes to it afterwards: a later deployment of the
 * same bundle resumes it, and nothing becomes `<sha256>.tar` without the size and checksum.
 */
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { sha256File } from "./fsutil.js";

export interface BundleRef {
  id: string;
  sha256: string;
  size: number;
  url: string;
}

/** The server said something a retry will not change (wrong checksum, 4xx). */
export class DownloadRejected extends Error {}

async function sizeOf(file: string): Promise<number | null> {
  return (await stat(file).catch(() => null))?.size ?? null;
}

export async function downloadBundle(server: string, token: string, workdir: string, bundle: BundleRef, signal: AbortSignal, say: (message: string) => void): Promise<string> {
  if (!/^[0-9a-f]{64}$/.test(bundle.sha256)) throw new DownloadRejected(`bundle ${bundle.id}: the server sent no valid sha256`);
  const dir = path.join(workdir, "downloads");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const done = path.join(dir, `${bundle.sha256}.tar`);
  const partial = `${done}.partial`;
  if ((await sizeOf(done)) === bundle.size && (await sha256File(done)) === bundle.sha256) {
    say(`bundle ${bundle.id} already downloaded (${done})`);
    return done;
  }
  let have = (await sizeOf(partial)) ?? 0;
  if (have > bundle.size) {
    await rm(partial, { force: true });
    have = 0;
  }
  if (have < bundle.size) {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (have > 0) headers.range = `bytes=${have}-`;
    const response = await fetch(new URL(bundle.url, server), { headers, signal });
    if (response.status === 416) {
      // Our partial file does not fit the server's copy; start over on the next attempt.
      await rm(partial, { force: true });
      throw new Error(`bundle ${bundle.id}: the server refused range ${have}-; starting over`);
    }
    if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 409 && response.status !== 429) {
      throw new DownloadRejected(`bundle ${bundle.id}: download answered ${response.status} ${(await response.text()).slice(0, 500)}`);
    }
    if (!response.ok || !response.body) throw new Error(`bundle ${bundle.id}: download answered ${response.status}`);
    // 200 to a range request means the server sends the whole file: write it from the start.
    const resumed = response.status === 206;
    say(resumed ? `resuming bundle ${bundle.id} at byte ${have} of ${bundle.size}` : `downloading bundle ${bundle.id} (${bundle.size} bytes)`);
    const body = Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>);
    await pipeline(body, createWriteStream(partial, { flags: resumed ? "a" : "w", mode: 0o600 }), { signal });
  }
  const size = await sizeOf(partial);
  // A short file is an interrupted transfer: keep it and resume on the next attempt.
  if (size !== null && size < bundle.size) throw new Error(`bundle ${bundle.id}: the download stopped at byte ${size} of ${bundle.size}`);
  const sha256 = await sha256File(partial);
  if (size !== bundle.size || sha256 !== bundle.sha256) {
    await rm(partial, { force: true });
    throw new DownloadRejected(`bundle ${bundle.id}: downloaded ${size} bytes with sha256 ${sha256}, expected ${bundle.size} bytes with ${bundle.sha256}; the file was discarded`);
  }
  await rename(partial, done);
  say(`downloaded bundle ${bundle.id}: ${size} bytes, sha256 verified`);
  return done;
}
