import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { buffer } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DiskStorage } from "../disk-storage";
import { createFileKey, MasterKeys, openFileKey, parseMasterKey } from "./encryption";
import {
  CHUNK_SIZE,
  chunkOffset,
  HEADER_LENGTH,
  plainSizeOf,
  storedSize,
  TamperedError,
} from "./format";
import { openObject, writeObject } from "../objects";
import { type FileStorage, newStorageKey } from "../storage";
import { Transfers } from "./transfers";
import { expectSameBytes } from "@/test/files/bytes";

const masterKey = parseMasterKey(randomBytes(32).toString("hex"));
const keys = new MasterKeys(masterKey);
let root: string;
let storage: DiskStorage;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "parley-enc-"));
  storage = await DiskStorage.create(root);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const objectPath = (key: string) => path.join(root, key.slice(0, 2), key);

async function store(plain: Buffer): Promise<string> {
  const key = newStorageKey();
  await writeObject(storage, keys, key, plain);
  return key;
}

async function readAll(key: string, range?: { start: number; end: number }): Promise<Buffer> {
  const object = await openObject(storage, keys, key);
  return buffer(object.read(range));
}

describe("encryption at rest", () => {
  it.each([0, 1, 100, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17])(
    "round-trips %i bytes and stores the expected size",
    async (size) => {
      const plain = randomBytes(size);
      const key = await store(plain);
      expectSameBytes(await readAll(key), plain);
      const stored = await readFile(objectPath(key));
      expect(stored.length).toBe(storedSize(size));
      expect(plainSizeOf(stored.length)).toBe(size);
      // Nothing of the plaintext shows through.
      if (size >= 64) expect(stored.includes(plain.subarray(0, 64))).toBe(false);
    },
  );

  it("uses a fresh key and nonces for every object", async () => {
    const plain = Buffer.alloc(1000, 7);
    const [a, b] = [await store(plain), await store(plain)];
    const [sa, sb] = [await readFile(objectPath(a)), await readFile(objectPath(b))];
    expect(sa.subarray(HEADER_LENGTH).equals(sb.subarray(HEADER_LENGTH))).toBe(false);
  });

  it("decrypts any range, reading only the chunks it touches", async () => {
    const size = 5 * CHUNK_SIZE + 123;
    const plain = randomBytes(size);
    const key = await store(plain);
    const ranges: [number, number][] = [
      [0, 0],
      [0, size - 1],
      [CHUNK_SIZE - 1, CHUNK_SIZE],
      [CHUNK_SIZE, 2 * CHUNK_SIZE - 1],
      [size - 1, size - 1],
      [size - 200, size - 1],
      [12345, 4 * CHUNK_SIZE + 7],
    ];
    for (let i = 0; i < 20; i++) {
      const a = Math.floor(Math.random() * size);
      const b = a + Math.floor(Math.random() * (size - a));
      ranges.push([a, b]);
    }
    for (const [start, end] of ranges) {
      expectSameBytes(await readAll(key, { start, end }), plain.subarray(start, end + 1));
    }
  });

  it("refuses a flipped bit in any chunk", async () => {
    const plain = randomBytes(3 * CHUNK_SIZE + 10);
    for (const at of [chunkOffset(0) + 5, chunkOffset(1) + CHUNK_SIZE + 3, chunkOffset(3) + 2]) {
      const key = await store(plain);
      const file = objectPath(key);
      const bytes = await readFile(file);
      bytes[at]! ^= 0x01;
      await writeFile(file, bytes);
      await expect(readAll(key)).rejects.toThrow(TamperedError);
    }
  });

  it("refuses a range over a tampered chunk but serves untouched ones", async () => {
    const plain = randomBytes(3 * CHUNK_SIZE);
    const key = await store(plain);
    const bytes = await readFile(objectPath(key));
    bytes[chunkOffset(2) + 100]! ^= 0xff;
    await writeFile(objectPath(key), bytes);
    expectSameBytes(
      await readAll(key, { start: 0, end: CHUNK_SIZE - 1 }),
      plain.subarray(0, CHUNK_SIZE),
    );
    await expect(readAll(key, { start: 2 * CHUNK_SIZE, end: 2 * CHUNK_SIZE + 5 })).rejects.toThrow(
      TamperedError,
    );
  });

  it("refuses a header changed, a wrong master key, or an object moved to another key", async () => {
    const plain = randomBytes(2000);
    const key = await store(plain);
    const bytes = await readFile(objectPath(key));

    const edited = Buffer.from(bytes);
    edited[20]! ^= 1; // inside the nonce prefix
    await writeFile(objectPath(key), edited);
    await expect(openObject(storage, keys, key)).rejects.toThrow(TamperedError);
    await writeFile(objectPath(key), bytes);

    const otherMaster = parseMasterKey(randomBytes(32).toString("hex"));
    await expect(openObject(storage, new MasterKeys(otherMaster), key)).rejects.toThrow(
      TamperedError,
    );

    const moved = newStorageKey();
    await storage.write(moved, bytes);
    await expect(openObject(storage, keys, moved)).rejects.toThrow(TamperedError);
  });

  it("refuses truncation, at a chunk boundary or inside a chunk", async () => {
    const plain = randomBytes(3 * CHUNK_SIZE + 500);
    const atBoundary = await store(plain);
    await truncate(objectPath(atBoundary), chunkOffset(2));
    // The size is a valid one, but the new last chunk was not sealed as the last.
    await expect(readAll(atBoundary)).rejects.toThrow(TamperedError);

    const inside = await store(plain);
    await truncate(objectPath(inside), chunkOffset(3) + 7);
    await expect(openObject(storage, keys, inside)).rejects.toThrow(TamperedError);
  });

  it("refuses chunks swapped between positions", async () => {
    const plain = randomBytes(3 * CHUNK_SIZE);
    const key = await store(plain);
    const bytes = await readFile(objectPath(key));
    const first = Buffer.from(bytes.subarray(chunkOffset(0), chunkOffset(1)));
    bytes.copy(bytes, chunkOffset(0), chunkOffset(1), chunkOffset(2));
    first.copy(bytes, chunkOffset(1));
    await writeFile(objectPath(key), bytes);
    await expect(readAll(key)).rejects.toThrow(TamperedError);
  });

  it("sends the same bytes through the transfer worker as on this thread", async () => {
    const plain = randomBytes(3 * CHUNK_SIZE + 17);
    const key = await store(plain);
    const transfers = new Transfers(1);
    // The same objects through a backend with no local path: read on this thread.
    const remote: FileStorage = {
      open: (k) => storage.open(k),
      write: (k, source) => storage.write(k, source),
      adopt: (k, local) => storage.adopt(k, local),
      remove: (k) => storage.remove(k),
      list: () => storage.list(),
    };
    const server = createServer((req, res) => {
      const [which, start, end] = (req.url ?? "").slice(1).split("/");
      void openObject(which === "local" ? storage : remote, keys, key).then(async (object) => {
        res.writeHead(200);
        await object.send(res, { start: Number(start), end: Number(end) }, transfers);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const ranges = [
        [0, plain.length - 1],
        [5, 5],
        [CHUNK_SIZE - 3, 2 * CHUNK_SIZE + 3],
        [3 * CHUNK_SIZE, plain.length - 1],
      ];
      for (const [start, end] of ranges) {
        for (const which of ["local", "remote"]) {
          const res = await fetch(`${base}/${which}/${start}/${end}`);
          expectSameBytes(Buffer.from(await res.arrayBuffer()), plain.subarray(start, end! + 1));
        }
      }
      await expect.poll(() => transfers.running).toBe(0);
    } finally {
      server.close();
      await transfers.close();
    }
  });

  it("wraps file keys bound to their context", () => {
    const created = createFileKey(masterKey, "a".repeat(32));
    expect(openFileKey(masterKey, created.header, "a".repeat(32)).key).toEqual(created.key);
    expect(() => openFileKey(masterKey, created.header, "b".repeat(32))).toThrow(TamperedError);
    expect(() => openFileKey(masterKey, created.header.subarray(0, 10), "a".repeat(32))).toThrow(
      TamperedError,
    );
  });
});
