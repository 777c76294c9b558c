/**
 * File sharing throughput and memory (issue 4): `npm run bench:files` prints JSON.
 *
 * A 1 GiB file (BENCH_FILES_BYTES to change) is copied on disk with a plain stream copy,
 * then uploaded through the app's tus endpoint (encrypted as it streams) and downloaded
 * through its download handler (decrypted as it streams) to a file on the same disk. The
 * server runs in a child process, `bench/files.ts serve`, so its RSS is its own: sampled
 * every 50 ms from /proc. Targets: app throughput ≥ half the plain copy's, RSS growth
 * < 100 MB. The child serves the same upload endpoint and download function as the web
 * node, with PGlite in memory and a bench session instead of NextAuth; Next's own response
 * piping is not in the measurement.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { pipeline } from "node:stream/promises";

const SIZE = Number(process.env.BENCH_FILES_BYTES ?? 1024 ** 3);
const MB = 1024 * 1024;

if (process.argv[2] === "serve") {
  await serve();
} else {
  await main();
}

async function main() {
  const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? tmpdir(), "parley-bench-files-"));
  const child = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_PROFILE_DIR
        ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
        : []),
      ...(process.env.BENCH_TRACE_GC ? ["--trace-gc"] : []),
      ...["--import", "./scripts/node-hooks.mjs", "--import", "tsx", "bench/files.ts", "serve"],
    ],
    {
      env: { ...process.env, BENCH_DATA_DIR: path.join(dir, "data"), LOG_LEVEL: "warn" },
      // The server exits when its stdin closes, so it never outlives this process.
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  try {
    const server = await new Promise<{ port: number; cookie: string; roomId: string }>(
      (resolve, reject) => {
        child.once("exit", (code) => reject(new Error(`bench server exited with ${code}`)));
        // The first JSON line is the server's address; anything else (--trace-gc) passes through.
        createInterface({ input: child.stdout! }).on("line", (line) => {
          if (line.startsWith("{")) resolve(JSON.parse(line));
          else console.error(line);
        });
      },
    );
    const source = path.join(dir, "source.bin");
    await writeRandomFile(source, SIZE);
    const sourceHash = await sha256(source);

    const copyCpuStart = process.cpuUsage();
    const copy = await timed(() =>
      pipeline(createReadStream(source), createWriteStream(path.join(dir, "copy.bin"))),
    );
    const copyCpu = cpuSeconds(process.cpuUsage(copyCpuStart));
    await rm(path.join(dir, "copy.bin"));

    const rawUpload = await timed(() =>
      send(
        server.port,
        { method: "PUT", path: "/raw", headers: { "Content-Length": String(SIZE) } },
        source,
      ),
    );
    const rawDownload = await timed(() =>
      fetchTo(server.port, "/raw", "", path.join(dir, "raw.bin")),
    );
    await rm(path.join(dir, "raw.bin"));

    const rss = rssSampler(child.pid!);
    const baseline = rss.current();
    const cpu0 = serverCpuSeconds(child.pid!);
    const upload = await timed(() => uploadThroughApp(server, source));
    const cpu1 = serverCpuSeconds(child.pid!);
    const afterUpload = rss.peak();
    const target = path.join(dir, "downloaded.bin");
    const download = await timed(() =>
      fetchTo(server.port, `/api/files/${upload.result}`, server.cookie, target),
    );
    const cpu2 = serverCpuSeconds(child.pid!);
    const peak = rss.stop();
    const identical = (await sha256(target)) === sourceHash;

    const rate = (seconds: number) => Math.round((SIZE / MB / seconds) * 10) / 10;
    const report = {
      benchmark: "files",
      file_bytes: SIZE,
      // On a shared machine wall time depends on the neighbours; CPU seconds do much less.
      load_average_1m: round(loadavg()[0] ?? 0),
      plain_copy: {
        seconds: round(copy.seconds),
        mb_per_s: rate(copy.seconds),
        cpu_seconds: round(copyCpu),
      },
      plain_http_no_encryption: {
        upload_mb_per_s: rate(rawUpload.seconds),
        download_mb_per_s: rate(rawDownload.seconds),
      },
      upload: {
        seconds: round(upload.seconds),
        server_cpu_seconds: round(cpu1 - cpu0),
        mb_per_s: rate(upload.seconds),
        ratio_to_plain_copy: round(copy.seconds / upload.seconds),
      },
      download: {
        seconds: round(download.seconds),
        server_cpu_seconds: round(cpu2 - cpu1),
        mb_per_s: rate(download.seconds),
        ratio_to_plain_copy: round(copy.seconds / download.seconds),
        byte_identical: identical,
      },
      server_rss_mb: {
        baseline: round(baseline / MB),
        peak_during_upload: round(afterUpload / MB),
        peak: round(peak / MB),
        growth: round((peak - baseline) / MB),
      },
      targets: { ratio_to_plain_copy: 0.5, rss_growth_mb: 100 },
      met: {
        upload: copy.seconds / upload.seconds >= 0.5,
        download: copy.seconds / download.seconds >= 0.5,
        rss: (peak - baseline) / MB < 100,
      },
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
    await rm(dir, { recursive: true, force: true });
  }
}

/** POST to create, then one streamed PATCH: what tus-js-client does with an unlimited chunk size. */
async function uploadThroughApp(
  server: { port: number; cookie: string; roomId: string },
  file: string,
): Promise<string> {
  const meta = (v: string) => Buffer.from(v).toString("base64");
  const created = await send(server.port, {
    method: "POST",
    path: "/api/files/uploads",
    headers: {
      cookie: server.cookie,
      "Tus-Resumable": "1.0.0",
      "Upload-Length": String(SIZE),
      "Upload-Metadata": `roomId ${meta(server.roomId)},name ${meta("big.bin")}`,
    },
  });
  if (created.status !== 201) throw new Error(`create failed: ${created.status} ${created.body}`);
  const location = created.headers.location as string;
  const patched = await send(
    server.port,
    {
      method: "PATCH",
      path: location,
      headers: {
        cookie: server.cookie,
        "Tus-Resumable": "1.0.0",
        "Upload-Offset": "0",
        "Content-Type": "application/offset+octet-stream",
        "Content-Length": String(SIZE),
      },
    },
    file,
  );
  if (patched.status !== 200) throw new Error(`upload failed: ${patched.status} ${patched.body}`);
  return (JSON.parse(patched.body) as { attachment: { id: string } }).attachment.id;
}

/** GETs `urlPath` into `target`. */
async function fetchTo(
  port: number,
  urlPath: string,
  cookie: string,
  target: string,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: urlPath, headers: { cookie } }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`download failed: ${res.statusCode}`));
      pipeline(res, createWriteStream(target)).then(resolve, reject);
    });
    req.on("error", reject);
    req.end();
  });
}

function send(
  port: number,
  options: { method: string; path: string; headers: Record<string, string> },
  bodyFile?: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, ...options }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (d: Buffer) => parts.push(d));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(parts).toString(),
        }),
      );
    });
    req.on("error", reject);
    if (bodyFile)
      pipeline(createReadStream(bodyFile, { highWaterMark: 256 * 1024 }), req).catch(reject);
    else req.end();
  });
}

async function writeRandomFile(file: string, size: number): Promise<void> {
  // Random, so nothing along the way can compress or deduplicate it.
  const block = randomBytes(8 * MB);
  const out = createWriteStream(file);
  for (let written = 0; written < size; written += block.length) {
    const part = block.subarray(0, Math.min(block.length, size - written));
    // A different first byte per block keeps blocks distinct.
    part[0] = written / block.length;
    if (!out.write(part)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
}

async function sha256(file: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(file), hash);
  return hash.digest("hex");
}

async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; result: T }> {
  const start = process.hrtime.bigint();
  const result = await fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, result };
}

/** The process's resident set size, sampled every 50 ms; peak() is the highest seen. */
function rssSampler(pid: number) {
  const read = () => {
    let status = "";
    try {
      status = readFileSync(`/proc/${pid}/status`, "utf8");
    } catch {
      // The server exited; the last sample stands.
    }
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  };
  let peak = read();
  const timer = setInterval(() => {
    peak = Math.max(peak, read());
  }, 50);
  return {
    current: read,
    peak: () => Math.max(peak, read()),
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, read());
    },
  };
}

function cpuSeconds(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1e6;
}

/** utime + stime of a process, from /proc/<pid>/stat (in clock ticks of 1/100 s). */
function serverCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

// ---- the server side -------------------------------------------------------------------

async function serve() {
  const { createServer } = await import("node:http");
  const { openDatabase } = await import("@/lib/db/client");
  const { migrateDatabase } = await import("@/lib/db/migrate");
  const { doCreateAccount } = await import("@/lib/auth/service");
  const { doCreateRoom } = await import("@/lib/rooms/service");
  const { openFiles, startFilesFeature } = await import("@/lib/files/node");
  const { serveFile } = await import("@/lib/files/download");
  const { sendResponse } = await import("@/test/files/harness");

  const database = await openDatabase(
    process.env.DATABASE_URL
      ? { kind: "postgres", url: process.env.DATABASE_URL }
      : { kind: "pglite" },
  );
  await migrateDatabase(database);
  const user = await doCreateAccount(database.db, {
    email: `bench-${randomBytes(4).toString("hex")}@example.test`,
    password: "bench password 1",
    displayName: "Bench",
  });
  const room = await doCreateRoom(database.db, user, { kind: "open" });
  const files = await openFiles({
    db: database.db,
    root: path.join(process.env.BENCH_DATA_DIR!, "files"),
    masterKeyHex: randomBytes(32).toString("hex"),
    settings: {
      maxBytes: 4 * 1024 ** 3,
      uploadExpiryMs: 24 * 3600_000,
      maxImagePixels: 50_000_000,
      thumbnailMaxInputBytes: 40 * MB,
      thumbnailSize: 480,
    },
  });
  const token = randomBytes(16).toString("hex");
  const authenticate = async (cookie: string | undefined) =>
    cookie?.includes(`bench-session=${token}`) ? user : null;
  const feature = startFilesFeature(files, authenticate);
  const rawFile = path.join(process.env.BENCH_DATA_DIR!, "raw.bin");
  const server = createServer((req, res) => {
    // The transport alone, for reference: the same bytes over the same HTTP, to and from
    // disk, with no tus, no encryption and no database.
    if (req.url === "/raw") {
      const done = () => res.writeHead(200).end();
      if (req.method === "PUT") void pipeline(req, createWriteStream(rawFile)).then(done);
      else void pipeline(createReadStream(rawFile, { highWaterMark: MB }), res).catch(() => {});
      return;
    }
    if (feature.handleRequest?.(req, res)) return;
    const id = /^\/api\/files\/([^/?]+)/.exec(req.url ?? "")?.[1] ?? "";
    void authenticate(req.headers.cookie)
      .then((who) =>
        serveFile(files, who, id, "file", {
          method: req.method ?? "GET",
          headers: new Headers(),
          forceDownload: false,
        }),
      )
      .then((response) => sendResponse(res, response));
  });
  server.listen(0, "127.0.0.1", () => {
    const address = server.address() as AddressInfo;
    const ready = { port: address.port, cookie: `bench-session=${token}`, roomId: room.room.id };
    process.stdout.write(`${JSON.stringify(ready)}\n`);
  });
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
  process.on("SIGTERM", () => {
    server.closeAllConnections();
    server.close();
    void database.close().finally(() => process.exit(0));
  });
}
