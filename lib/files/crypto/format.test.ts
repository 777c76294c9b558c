import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiskStorage } from "../disk-storage";
import { openObject } from "../objects";
import { newStorageKey } from "../storage";
import { encryptingStream } from "./encrypted-streams";
import { createFileKey, MasterKeys, tailKey } from "./encryption";
import {
  CHUNK_SIZE,
  chunkCount,
  chunkOffset,
  chunksOf,
  HEADER_LENGTH,
  plainChunkLength,
  plainSizeOf,
  SEALED_CHUNK_SIZE,
  sealedChunkLength,
  sliceOfChunk,
  storedSize,
  TAG_LENGTH,
  wholeChunksIn,
} from "./format";
import { Transfers } from "./transfers";
import { expectSameBytes } from "@/test/files/bytes";

/**
 * Known answers for the stored format. Files already on disk must keep opening, so the
 * bytes an object is stored as may never change by accident: these hashes were taken from
 * the format as it shipped (before lib/files/crypto/format.ts existed, from the code of
 * commit a032881), with fixed key material in place of the random one. If one of these
 * fails, stored files would no longer decrypt: change the format only with a new magic
 * and a way to read the old one.
 */
const fill = (length: number, first: number) =>
  Buffer.from(Array.from({ length }, (_, i) => (first + i) & 0xff));
const MASTER_KEY = fill(32, 0x40);
const MATERIAL = { key: fill(32, 0x00), noncePrefix: fill(7, 0xa0), wrapIv: fill(12, 0xb0) };
/** The storage key the object is bound to. */
const CONTEXT = "0123456789abcdef0123456789abcdef";
const HEADER =
  "50524c59454e433100100000a0a1a2a3a4a5a6b0b1b2b3b4b5b6b7b8b9babb03018286c54fed9e33e72df3" +
  "e1fb42c4ae19963b5000c088ebdf7a2095adec8f85c30cd635d9baf870cdbc077665f2a4";
const TAIL_KEY = "7252c2aca01e0c0c494aba207d37316f996510e65bc4d79a395e3fe48590daac";
/** Plaintext size → sha256 of the whole stored object (two full chunks and a partial one, and empty). */
const KNOWN: [number, string][] = [
  [0, "ddfdcd8f9339dc0ba4df8d2ecfc74aaecad44b0637b1cadf97d53c839434ee96"],
  [2 * CHUNK_SIZE + 1000, "3bab5b00632165ae01bbd69765d3f43a59c17e69c4df13f8a6ef1e15bd5fb217"],
];

function plaintext(size: number): Buffer {
  const plain = Buffer.alloc(size);
  for (let i = 0; i < size; i++) plain[i] = (i * 7 + (i >> 8)) & 0xff;
  return plain;
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const fileKey = () => createFileKey(MASTER_KEY, CONTEXT, MATERIAL);

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "parley-format-"));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("the stored format's known answers", () => {
  it("wraps the file key into the same 79-byte header", () => {
    expect(HEADER_LENGTH).toBe(79);
    expect(fileKey().header.toString("hex")).toBe(HEADER);
    expect(tailKey(fileKey()).toString("hex")).toBe(TAIL_KEY);
  });

  it.each(KNOWN)("seals %i bytes on this thread into the known bytes", async (size, hash) => {
    const stored = await buffer(Readable.from([plaintext(size)]).pipe(encryptingStream(fileKey())));
    expect(stored.length).toBe(storedSize(size));
    expect(sha256(stored)).toBe(hash);
  });

  it.each(KNOWN)(
    "seals %i bytes on the transfer worker into the same bytes",
    async (size, hash) => {
      const file = path.join(root, `sealed-${size}`);
      const key = fileKey();
      await writeFile(file, key.header);
      const transfers = new Transfers(1);
      try {
        const sealing = transfers.seal({
          path: file,
          fileKey: key,
          index: 0,
          size,
          capacity: size,
        });
        const plain = plaintext(size);
        // Uneven pieces, as a socket delivers them.
        for (let at = 0; at < size; at += 65_521)
          await sealing.push(plain.subarray(at, at + 65_521));
        const { index, rest } = await sealing.finish();
        expect({ index, rest: rest.length }).toEqual({ index: chunkCount(size), rest: 0 });
      } finally {
        await transfers.close();
      }
      expect(sha256(await readFile(file))).toBe(hash);
    },
  );

  it("opens the known object on this thread and on the transfer worker", async () => {
    const [size] = KNOWN[1]!;
    const plain = plaintext(size);
    const storage = await DiskStorage.create(path.join(root, "objects"));
    const key = newStorageKey();
    const file = createFileKey(MASTER_KEY, key, MATERIAL);
    await storage.write(key, Readable.from([plain]).pipe(encryptingStream(file)));
    const object = await openObject(storage, new MasterKeys(MASTER_KEY), key);
    expectSameBytes(await buffer(object.read()), plain);

    const transfers = new Transfers(1);
    const server = createServer((_req, res) => {
      res.writeHead(200);
      void object.send(res, { start: 0, end: size - 1 }, transfers);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expectSameBytes(Buffer.from(await res.arrayBuffer()), plain);
    } finally {
      server.close();
      await transfers.close();
    }
  });
});

describe("the format's length arithmetic", () => {
  it("places and sizes chunks", () => {
    const size = 2 * CHUNK_SIZE + 5;
    expect(chunkCount(0)).toBe(1);
    expect(chunkCount(CHUNK_SIZE)).toBe(1);
    expect(chunkCount(CHUNK_SIZE + 1)).toBe(2);
    expect([0, 1, 2].map((i) => plainChunkLength(size, i))).toEqual([CHUNK_SIZE, CHUNK_SIZE, 5]);
    expect(sealedChunkLength(size, 2)).toBe(5 + TAG_LENGTH);
    expect(plainChunkLength(0, 0)).toBe(0);
    expect(chunkOffset(2)).toBe(HEADER_LENGTH + 2 * SEALED_CHUNK_SIZE);
    expect(storedSize(size)).toBe(chunkOffset(2) + 5 + TAG_LENGTH);
    for (const s of [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, size])
      expect(plainSizeOf(storedSize(s))).toBe(s);
  });

  it("counts the whole chunks a growing upload holds", () => {
    const size = 2 * CHUNK_SIZE + 5;
    expect(wholeChunksIn(HEADER_LENGTH, size)).toBe(0);
    expect(wholeChunksIn(chunkOffset(1) - 1, size)).toBe(0);
    expect(wholeChunksIn(chunkOffset(1), size)).toBe(1);
    expect(wholeChunksIn(chunkOffset(2) + 5 + TAG_LENGTH - 1, size)).toBe(2);
    expect(wholeChunksIn(storedSize(size), size)).toBe(3);
    expect(wholeChunksIn(storedSize(0), 0)).toBe(1);
  });

  it("maps a byte range to chunks and slices", () => {
    expect(chunksOf(0, 0)).toEqual({ first: 0, past: 1 });
    expect(chunksOf(CHUNK_SIZE - 1, CHUNK_SIZE)).toEqual({ first: 0, past: 2 });
    expect(chunksOf(0, -1)).toEqual({ first: 0, past: 0 });
    expect(sliceOfChunk(1, CHUNK_SIZE, CHUNK_SIZE + 10, CHUNK_SIZE + 19)).toEqual({
      from: 10,
      to: 20,
    });
    expect(sliceOfChunk(0, CHUNK_SIZE, 5, 3 * CHUNK_SIZE)).toEqual({ from: 5, to: CHUNK_SIZE });
  });
});
