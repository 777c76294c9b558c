import { createReadStream } from "node:fs";
import { open, rm, stat } from "node:fs/promises";
import path from "node:path";

/**
 * A streaming tar (POSIX ustar) writer: entries go out one after another as their bytes
 * arrive, so an archive of any size passes through in a few blocks of memory. Written here
 * rather than taken from a package: the only tar library in the tree (modern-tar) arrives
 * through a development dependency, and ustar is a 512-byte header, the data padded to 512,
 * and two empty blocks at the end.
 *
 * An entry's size goes in its header, before its data: files know theirs; text whose
 * length is known only once written (a room's messages) is spooled to disk first
 * ({@link spool}).
 */
export interface TarEntry {
  /** A relative path, `/`-separated; at most 255 bytes (split as ustar's prefix + name). */
  name: string;
  size: number;
  mtime?: Date;
  body: Buffer | AsyncIterable<Buffer | Uint8Array>;
}

const BLOCK = 512;

export async function* tar(entries: AsyncIterable<TarEntry>): AsyncGenerator<Buffer> {
  for await (const entry of entries) {
    yield header(entry);
    let written = 0;
    if (Buffer.isBuffer(entry.body)) {
      written = entry.body.length;
      yield entry.body;
    } else {
      for await (const chunk of entry.body) {
        written += chunk.length;
        if (written > entry.size) throw new Error(`${entry.name} is longer than its size`);
        yield Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
      }
    }
    if (written !== entry.size) {
      throw new Error(`${entry.name} has ${written} bytes, not the ${entry.size} its header says`);
    }
    const pad = (BLOCK - (written % BLOCK)) % BLOCK;
    if (pad) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(BLOCK * 2);
}

function header(entry: TarEntry): Buffer {
  const block = Buffer.alloc(BLOCK);
  const { prefix, name } = splitName(entry.name);
  block.write(name, 0, 100, "utf8");
  octal(block, 100, 8, 0o644);
  octal(block, 108, 8, 0);
  octal(block, 116, 8, 0);
  octal(block, 124, 12, entry.size);
  octal(block, 136, 12, Math.floor((entry.mtime ?? new Date()).getTime() / 1000));
  block.fill(0x20, 148, 156); // the checksum counts itself as spaces
  block.write("0", 156, 1, "ascii"); // a regular file
  block.write("ustar\u000000", 257, 8, "ascii");
  block.write(prefix, 345, 155, "utf8");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, 8, "ascii");
  return block;
}

function octal(block: Buffer, offset: number, length: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > length - 1) throw new Error(`${value} does not fit a tar header field`);
  block.write(`${digits.padStart(length - 1, "0")}\u0000`, offset, length, "ascii");
}

/** ustar's name is 100 bytes, with a 155-byte prefix joined by `/`. */
function splitName(full: string): { prefix: string; name: string } {
  const bytes = Buffer.byteLength(full);
  if (bytes <= 100) return { prefix: "", name: full };
  for (let i = full.indexOf("/"); i >= 0; i = full.indexOf("/", i + 1)) {
    const prefix = full.slice(0, i);
    const name = full.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { prefix, name };
  }
  throw new Error(`${full} is too long for a tar entry`);
}

/**
 * Writes generated text to a temporary file, then hands it out as an entry (and deletes the
 * file once read): for text whose size is unknown until it is all written.
 */
export async function spool(
  dir: string,
  name: string,
  text: AsyncIterable<string>,
): Promise<TarEntry> {
  const file = path.join(dir, `${process.pid}-${crypto.randomUUID()}.spool`);
  const handle = await open(file, "wx", 0o600);
  try {
    let pending: string[] = [];
    let pendingLength = 0;
    for await (const piece of text) {
      pending.push(piece);
      pendingLength += piece.length;
      if (pendingLength >= 256 * 1024) {
        await handle.write(pending.join(""));
        pending = [];
        pendingLength = 0;
      }
    }
    if (pending.length) await handle.write(pending.join(""));
  } catch (err) {
    await handle.close();
    await rm(file, { force: true });
    throw err;
  }
  await handle.close();
  const { size } = await stat(file);
  return {
    name,
    size,
    body: (async function* () {
      try {
        yield* createReadStream(file) as AsyncIterable<Buffer>;
      } finally {
        await rm(file, { force: true });
      }
    })(),
  };
}

/** An entry read back from an archive; read its body whole before asking for the next. */
export interface TarReadEntry {
  name: string;
  size: number;
  body: AsyncGenerator<Buffer>;
}

/**
 * Reads an archive this module wrote (regular files in ustar), as a stream: each header's
 * checksum is checked, and an archive that ends before its closing blocks is refused as
 * truncated, so a cut-off copy never reads as a shorter valid one.
 */
export async function* untar(
  source: AsyncIterable<Buffer | Uint8Array>,
): AsyncGenerator<TarReadEntry> {
  const input = new ExactReader(source);
  for (;;) {
    const block = await input.read(BLOCK);
    if (!block) throw new Error("The archive is truncated (it ends before its last entry)");
    if (block.every((b) => b === 0)) {
      if (!(await input.read(BLOCK))) throw new Error("The archive is truncated (no end marker)");
      return;
    }
    const entry = parseHeader(block);
    let left = entry.size;
    const body = (async function* () {
      while (left > 0) {
        const piece = await input.read(Math.min(left, 256 * 1024));
        if (!piece) throw new Error(`The archive is truncated (inside ${entry.name})`);
        left -= piece.length;
        yield piece;
      }
    })();
    yield { ...entry, body };
    // Whatever the reader left unread is skipped, so the next header is where it should be.
    for await (const _ of body) void _;
    if (left > 0) throw new Error(`The archive is truncated (inside ${entry.name})`);
    const pad = (BLOCK - (entry.size % BLOCK)) % BLOCK;
    if (pad && !(await input.read(pad))) throw new Error("The archive is truncated");
  }
}

function parseHeader(block: Buffer): { name: string; size: number } {
  const stored = parseInt(block.toString("ascii", 148, 156).split(/[\0 ]/)[0]!, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  if (stored !== sum) throw new Error("The archive is damaged (a header's checksum is wrong)");
  if (block.toString("ascii", 257, 262) !== "ustar")
    throw new Error("Not an archive this program wrote (no ustar header)");
  const type = block[156];
  if (type !== 0x30 && type !== 0) throw new Error("The archive holds an entry that is not a file");
  const text = (from: number, length: number) => {
    const field = block.subarray(from, from + length);
    const end = field.indexOf(0);
    return field.toString("utf8", 0, end < 0 ? length : end);
  };
  const prefix = text(345, 155);
  const name = text(0, 100);
  const size = parseInt(text(124, 12), 8);
  if (!Number.isSafeInteger(size) || size < 0)
    throw new Error("The archive is damaged (a bad size)");
  return { name: prefix ? `${prefix}/${name}` : name, size };
}

/** Reads exact byte counts from a stream of buffers; null once the stream has ended. */
class ExactReader {
  private readonly iterator: AsyncIterator<Buffer | Uint8Array>;
  private pending: Buffer[] = [];
  private buffered = 0;
  private done = false;

  constructor(source: AsyncIterable<Buffer | Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** `length` bytes, or null when the stream ends first. */
  async read(length: number): Promise<Buffer | null> {
    while (this.buffered < length && !this.done) {
      const next = await this.iterator.next();
      if (next.done) this.done = true;
      else if (next.value.length) {
        const chunk = Buffer.isBuffer(next.value)
          ? next.value
          : Buffer.from(next.value.buffer, next.value.byteOffset, next.value.length);
        this.pending.push(chunk);
        this.buffered += chunk.length;
      }
    }
    if (this.buffered < length) return null;
    const joined = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const out = joined.subarray(0, length);
    const rest = joined.subarray(length);
    this.pending = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }
}
