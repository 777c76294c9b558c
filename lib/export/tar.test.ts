import { execFileSync } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import { spool, tar, type TarEntry } from "./tar";

async function* entries(list: TarEntry[]): AsyncGenerator<TarEntry> {
  yield* list;
}

describe("tar", () => {
  it("writes archives the system's tar reads back byte for byte", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "parley-tar-"));
    try {
      const long = `room-x/files/${"d".repeat(60)}/${"n".repeat(90)}.txt`;
      const streamed = Buffer.alloc(700_001, 7);
      const text = await spool(
        dir,
        "room-x/messages.jsonl",
        (async function* () {
          for (let i = 0; i < 3000; i++) yield `{"n":${i},"body":"é ${"x".repeat(i % 50)}"}\n`;
        })(),
      );
      const archive = path.join(dir, "a.tar");
      await pipeline(
        Readable.from(
          tar(
            entries([
              { name: "room-x/empty", size: 0, body: Buffer.alloc(0) },
              { name: long, size: 5, body: Buffer.from("hello") },
              {
                name: "room-x/big.bin",
                size: streamed.length,
                body: (async function* () {
                  yield streamed.subarray(0, 1000);
                  yield streamed.subarray(1000);
                })(),
              },
              text,
            ]),
          ),
        ),
        createWriteStream(archive),
      );
      const out = path.join(dir, "out");
      execFileSync("mkdir", [out]);
      execFileSync("tar", ["-xf", archive, "-C", out]);
      expect(await readFile(path.join(out, long), "utf8")).toBe("hello");
      expect((await readFile(path.join(out, "room-x/empty"))).length).toBe(0);
      expect((await readFile(path.join(out, "room-x/big.bin"))).equals(streamed)).toBe(true);
      const lines = (await readFile(path.join(out, "room-x/messages.jsonl"), "utf8"))
        .trim()
        .split("\n");
      expect(lines).toHaveLength(3000);
      expect(JSON.parse(lines[2999]!)).toEqual({ n: 2999, body: `é ${"x".repeat(49)}` });
      // The spooled file is gone once read.
      expect(execFileSync("ls", [dir]).toString().trim().split("\n").sort()).toEqual([
        "a.tar",
        "out",
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses an entry whose bytes do not match its size", async () => {
    const read = async (entry: TarEntry) => {
      for await (const chunk of tar(entries([entry]))) void chunk;
    };
    await expect(read({ name: "a", size: 3, body: Buffer.from("ab") })).rejects.toThrow(
      "has 2 bytes, not the 3",
    );
    await expect(
      read({
        name: "b",
        size: 1,
        body: (async function* () {
          yield Buffer.from("xy");
        })(),
      }),
    ).rejects.toThrow("longer than its size");
  });
});
