/**
 * Why GET /api/files/<id> is served on plain Node rather than by a route handler
 * (docs/files.md, "HTTP surface"): one stored object downloaded over loopback HTTP through
 * each body path, alternately, three times. `node` is what lib/files/http/download.ts does
 * (views of the transfer worker's ring written to the socket); `route` is what a route
 * handler would do (a Response over a web stream of the object decrypted on the main
 * thread, written out chunk by chunk, as Next writes a handler's Response), without Next's
 * own costs, so the route figures are its best case. curl runs in its own process; CPU
 * seconds are this process's, worker threads included. Prints JSON.
 *
 *   npx node --import ./scripts/node-hooks.mjs --import tsx bench/files-download-path.ts
 *
 * SIZE (bytes, default 512 MiB) changes the object.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { MasterKeys } from "@/lib/files/crypto/encryption";
import { DiskStorage } from "@/lib/files/disk-storage";
import { Transfers } from "@/lib/files/crypto/transfers";
import { openObject, writeObject } from "@/lib/files/objects";
import { newStorageKey } from "@/lib/files/storage";

const SIZE = Number(process.env.SIZE ?? 512 * 1024 * 1024);
const root = await mkdtemp(path.join(tmpdir(), "parley-download-path-"));
const storage = await DiskStorage.create(root);
const master = new MasterKeys(randomBytes(32));
const key = newStorageKey();
const piece = randomBytes(1024 * 1024);
async function* gen() {
  for (let i = 0; i < SIZE / piece.length; i++) yield piece;
}
await writeObject(storage, master, key, Readable.from(gen()));
const transfers = new Transfers();
function webStream(source: Readable): ReadableStream<Uint8Array> {
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return new ReadableStream<Uint8Array>(
    {
      async pull(c) {
        const n = await chunks.next();
        if (n.done) c.close();
        else c.enqueue(n.value);
      },
      async cancel() {
        await chunks.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}
async function serve(url: string | undefined, res: ServerResponse): Promise<void> {
  const object = await openObject(storage, master, key);
  res.writeHead(200, { "Content-Length": String(object.size) });
  if (url === "/node") {
    await object.send(res, { start: 0, end: object.size - 1 }, transfers);
    return;
  }
  // What a route handler does: a Response over a web stream, written out chunk by chunk.
  const response = new Response(webStream(object.read()));
  const reader = response.body!.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!res.write(value)) await new Promise((r) => res.once("drain", r));
  }
  res.end();
}
const server = createServer((req, res) => void serve(req.url, res));
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const port = (server.address() as AddressInfo).port;
const results: Record<string, { mbps: number; cpu: number }[]> = { node: [], route: [] };
for (let round = 0; round < 3; round++) {
  for (const which of ["node", "route"] as const) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    // curl in its own process, so its CPU is not counted here.
    await new Promise<void>((resolve) => {
      spawn("curl", ["-s", "-o", "/dev/null", `http://127.0.0.1:${port}/${which}`]).on(
        "close",
        () => resolve(),
      );
    });
    const s = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(cpu0);
    results[which]!.push({
      mbps: Math.round(SIZE / 1e6 / s),
      cpu: Math.round((c.user + c.system) / 1e4) / 100,
    });
  }
}
const report = { benchmark: "files-download-path", bytes: SIZE, results };
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
server.close();
await transfers.close();
await rm(root, { recursive: true, force: true });
