/**
 * A strict reader for the tar files Ferry writes (ustar headers, pax headers for long
 * paths, files and folders only). Strict on purpose: every byte of the archive is
 * accounted for, so a single flipped byte anywhere is noticed and attributed to an entry.
 * Header checksums must be exactly as written (`NNNNNN` octal, space, NUL), padding and
 * the end-of-archive blocks must be zero, and nothing but zeros may follow the end.
 * Runs at air-gapped sites: Node built-ins only.
 */
const BLOCK = 512;

export class TarFormatError extends Error {
  constructor(
    message: string,
    /** The entry the fault is in or next to (as named in the archive), when known. */
    readonly entry: string | undefined,
    readonly offset: number,
  ) {
    super(message);
    this.name = "TarFormatError";
  }
}

export interface TarEntryHeader {
  name: string;
  type: "file" | "directory";
  size: number;
  mode: number;
  /** Byte offset of this entry's (first) header in the archive. */
  headerOffset: number;
  /** Byte offset of its data. */
  dataOffset: number;
}

export interface TarVisitor {
  entry(header: TarEntryHeader): void;
  data(chunk: Buffer): void;
  entryEnd(): void;
}

type State =
  | { kind: "header" }
  | { kind: "data"; remaining: number; padding: number; pax: boolean }
  | { kind: "padding"; remaining: number }
  | { kind: "end"; zeroBlocks: number };

export class StrictTarReader {
  private state: State = { kind: "header" };
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private offset = 0;
  private last: string | undefined;
  private current: string | undefined;
  private paxPath: string | undefined;
  private paxChunks: Buffer[] = [];
  private headerOffset = 0;

  constructor(private readonly visitor: TarVisitor) {}

  /** The entry being read, or the last one read (for reporting faults outside the tar layer). */
  get position(): { entry: string | undefined; offset: number } {
    return { entry: this.current ?? this.last, offset: this.offset };
  }

  push(chunk: Buffer): void {
    let input = chunk;
    while (input.length) {
      const state = this.state;
      if (state.kind === "data") {
        const take = Math.min(state.remaining, input.length);
        const part = input.subarray(0, take);
        if (state.pax) this.paxChunks.push(part);
        else this.visitor.data(part);
        state.remaining -= take;
        this.offset += take;
        input = input.subarray(take);
        if (state.remaining === 0) this.finishData(state.padding, state.pax);
        continue;
      }
      if (state.kind === "padding") {
        const take = Math.min(state.remaining, input.length);
        this.requireZero(input.subarray(0, take), `padding after ${this.last} is not zero`);
        state.remaining -= take;
        this.offset += take;
        input = input.subarray(take);
        if (state.remaining === 0) this.state = { kind: "header" };
        continue;
      }
      // header or end: whole blocks
      const need = BLOCK - this.pendingBytes;
      const take = Math.min(need, input.length);
      this.pending.push(input.subarray(0, take));
      this.pendingBytes += take;
      input = input.subarray(take);
      if (this.pendingBytes < BLOCK) continue;
      const block = Buffer.concat(this.pending, BLOCK);
      this.pending = [];
      this.pendingBytes = 0;
      const at = this.offset;
      this.offset += BLOCK;
      if (state.kind === "end") {
        this.requireZero(block, "data after the end-of-archive marker", at);
        state.zeroBlocks += 1;
      } else this.header(block, at);
    }
  }

  /** Call after the last chunk: the archive must have ended properly. */
  end(): void {
    if (this.state.kind === "end" && this.state.zeroBlocks >= 2 && this.pendingBytes === 0) return;
    if (this.state.kind === "end" && this.pendingBytes === 0) throw new TarFormatError("the archive ends without its second end-of-archive block", this.last, this.offset);
    throw new TarFormatError(`the archive is truncated (inside or after ${this.current ?? this.last ?? "its first entry"})`, this.current ?? this.last, this.offset);
  }

  private header(block: Buffer, at: number): void {
    if (block.every((byte) => byte === 0)) {
      if (this.paxPath !== undefined) throw new TarFormatError("pax header without its entry", this.last, at);
      this.state = { kind: "end", zeroBlocks: 1 };
      return;
    }
    const rawName = cString(block, 0, 100);
    const prefix = cString(block, 345, 155);
    const name = this.paxPath ?? (prefix ? `${prefix}/${rawName}` : rawName);
    const label = name || `the entry after ${this.last ?? "the start"}`;
    if (!checksumIsExact(block)) {
      // The name itself may be what was damaged: say where the header sits, too.
      const after = this.last ? `, the header after ${this.last}` : ", the first header";
      throw new TarFormatError(`tar header of ${label} is corrupt (checksum mismatch${after})`, name || this.last, at);
    }
    if (block.toString("latin1", 257, 263) !== "ustar\0" || block.toString("latin1", 263, 265) !== "00") {
      throw new TarFormatError(`tar header of ${label} is not a ustar header`, name || this.last, at);
    }
    const typeflag = String.fromCharCode(block[156]!);
    const size = octal(block, 124, 12);
    const mode = octal(block, 100, 8);
    if (size === null || mode === null) throw new TarFormatError(`tar header of ${label} has an invalid size or mode`, name || this.last, at);
    if (typeflag === "x") {
      if (this.paxPath !== undefined) throw new TarFormatError("two pax headers in a row", this.last, at);
      this.headerOffset = at;
      this.paxChunks = [];
      this.state = { kind: "data", remaining: size, padding: padOf(size), pax: true };
      if (size === 0) this.finishData(0, true);
      return;
    }
    if (typeflag !== "0" && typeflag !== "\0" && typeflag !== "5") {
      throw new TarFormatError(`${label}: entry type "${typeflag}" is not allowed in a bundle (files and folders only)`, name, at);
    }
    const headerOffset = this.paxPath !== undefined ? this.headerOffset : at;
    this.paxPath = undefined;
    const type = typeflag === "5" ? "directory" : "file";
    const clean = type === "directory" ? name.replace(/\/$/, "") : name;
    if (type === "directory" && size !== 0) throw new TarFormatError(`folder ${clean} has a size`, clean, at);
    this.current = clean;
    this.visitor.entry({ name: clean, type, size, mode, headerOffset, dataOffset: at + BLOCK });
    this.state = { kind: "data", remaining: size, padding: padOf(size), pax: false };
    if (size === 0) this.finishData(0, false);
  }

  private finishData(padding: number, pax: boolean): void {
    if (pax) {
      const records = parsePax(Buffer.concat(this.paxChunks));
      this.paxChunks = [];
      if (!records || !records.path) throw new TarFormatError(`pax header after ${this.last ?? "the start"} is corrupt`, this.last, this.offset);
      this.paxPath = records.path;
    } else {
      this.visitor.entryEnd();
      this.last = this.current;
      this.current = undefined;
    }
    this.state = padding ? { kind: "padding", remaining: padding } : { kind: "header" };
  }

  private requireZero(bytes: Buffer, message: string, at = this.offset): void {
    const index = bytes.findIndex((byte) => byte !== 0);
    if (index !== -1) throw new TarFormatError(message, this.last, at + index);
  }
}

const padOf = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

function cString(block: Buffer, start: number, length: number): string {
  const end = block.indexOf(0, start);
  return block.toString("utf8", start, end === -1 || end > start + length ? start + length : end);
}

/** Octal field: digits, then space or NUL padding; or base-256 for large sizes. */
function octal(block: Buffer, start: number, length: number): number | null {
  if (block[start]! & 0x80) {
    let value = 0;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + block[i]!;
    return value;
  }
  const text = block.toString("latin1", start, start + length).replace(/[ \0]+$/, "");
  if (!/^[0-7]*$/.test(text)) return null;
  return text ? parseInt(text, 8) : 0;
}

/** The checksum field exactly as Ferry's writer formats it: six octal digits, a space, a NUL. */
function checksumIsExact(block: Buffer): boolean {
  let sum = 8 * 32;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += block[i]!;
  const expected = `${sum.toString(8).padStart(6, "0")} \0`;
  return block.toString("latin1", 148, 156) === expected;
}

function parsePax(buffer: Buffer): Record<string, string> | null {
  const records: Record<string, string> = {};
  let rest = buffer;
  while (rest.length) {
    const space = rest.indexOf(0x20);
    const length = Number(rest.toString("latin1", 0, space));
    if (space <= 0 || !Number.isInteger(length) || length <= space || length > rest.length || rest[length - 1] !== 0x0a) return null;
    const record = rest.toString("utf8", space + 1, length - 1);
    const equals = record.indexOf("=");
    if (equals <= 0) return null;
    records[record.slice(0, equals)] = record.slice(equals + 1);
    rest = rest.subarray(length);
  }
  return records;
}
