/**
 * File sharing throughput and memory (issue 4): `npm run bench:files` prints JSON.
 *
 * A 1 GiB file (BENCH_FILES_BYTES to change) is copied on disk with a plain stream copy,
 * sent over bare loopback HTTP to a server that only writes it to disk and back (the
 * transport alone), then uploaded through the app's tus endpoint (encrypted as it streams)
 * and downloaded (decrypted as it streams) to a file on the same disk. Targets: app
 * throughput ≥ half the plain copy's, RSS growth < 100 MB.
 *
 * The server runs in a child process, so its RSS (sampled every 50 ms from /proc) and CPU
 * seconds (utime + stime, every thread: the transfer worker's and V8's collector threads
 * too) are its own. It is the app itself, server.ts with the production build, when .next
 * holds one; else `bench/files.ts serve`, the same files feature without Next (PGlite in
 * memory, a bench session instead of NextAuth), whose small heap makes garbage collection
 * far cheaper than in the app. BENCH_NODE_FLAGS passes Node flags to the servers
 * (`--cpu-prof --cpu-prof-dir=…`, `--trace-gc`).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { type Server as HttpServer, request } from "node:http";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { pipeline } from "node:stream/promises";

const SIZE = Number(process.env.BENCH_FILES_BYTES ?? 1024 ** 3);
const MB = 1024 * 1024;

if (process.argv[2] === "serve") await serve();
else if (process.argv[2] === "raw") await serveRaw();
else await main();

interface Server {
  kind: "app" | "handlers";
  child: ChildProcess;
  port: number;
  cookie: string;
  roomId: string;
}

async function main() {
  const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? tmpdir(), "parley-bench-files-"));
  const children: ChildProcess[] = [];
  process.on("exit", () => children.forEach((c) => c.kill("SIGKILL")));
  try {
    const source = path.join(dir, "source.bin");
    await writeRandomFile(source, SIZE);
    const sourceHash = await sha256(source);

    const copyCpuStart = process.cpuUsage();
    const copy = await timed(() =>
      pipeline(createReadStream(source), createWriteStream(path.join(dir, "copy.bin"))),
    );
    const copyCpu = cpuSeconds(process.cpuUsage(copyCpuStart));
    await rm(path.join(dir, "copy.bin"));

    // The transport alone: the same bytes over the same loopback HTTP, nothing else.
    const raw = await startHelper(dir, "raw", children);
    const rawUpload = await timed(() =>
      send(
        raw.port,
        { method: "PUT", path: "/raw", headers: { "Content-Length": String(SIZE) } },
        source,
      ),
    );
    const rawDownload = await timed(() => fetchTo(raw.port, "/raw", "", path.join(dir, "raw.bin")));
    await rm(path.join(dir, "raw.bin"));
    await stop(raw.child);

    const server = await startServer(dir, children);
    const rss = rssSampler(server.child.pid!);
    const baseline = rss.current();
    const cpu0 = serverCpuSeconds(server.child.pid!);
    const upload = await timed(() => uploadThroughApp(server, source));
    const cpu1 = serverCpuSeconds(server.child.pid!);
    const afterUpload = rss.peak();
    const target = path.join(dir, "downloaded.bin");
    const download = await timed(() =>
      fetchTo(server.port, `/api/files/${upload.result}`, server.cookie, target),
    );
    const cpu2 = serverCpuSeconds(server.child.pid!);
    const peak = rss.stop();
    await stop(server.child);
    const identical = (await sha256(target)) === sourceHash;

    const rate = (seconds: number) => Math.round((SIZE / MB / seconds) * 10) / 10;
    const report = {
      benchmark: "files",
      file_bytes: SIZE,
      // "app": server.ts with the production build (Next route handlers serve downloads);
      // "handlers": the same upload endpoint and download function without Next (no build).
      server: server.kind,
      // On a shared machine wall time depends on the neighbours; CPU seconds much less.
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
    for (const child of children) await stop(child);
    await rm(dir, { recursive: true, force: true });
  }
}

/** The app if it has a production build (`npm run build`), else the files handlers alone. */
async function startServer(dir: string, children: ChildProcess[]): Promise<Server> {
  const hasBuild = existsSync(path.join(process.cwd(), ".next", "BUILD_ID"));
  if (process.env.BENCH_FILES_SERVER === "handlers" || !hasBuild) {
    return { kind: "handlers", ...(await startHelper(dir, "serve", children)) };
  }
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [...nodeFlags(), "--import", "./scripts/node-hooks.mjs", "--import", "tsx", "server.ts"],
    {
      env: {
        ...process.env,
        NODE_ENV: "production",
        HOST: "127.0.0.1",
        PORT: String(port),
        DATA_DIR: path.join(dir, "app-data"),
        DATABASE_URL: "",
        REDIS_URL: "",
        FILES_MAX_BYTES: String(2 * SIZE),
        LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  children.push(child);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const ok = await fetch(`${base}/api/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 600 || child.exitCode !== null) throw new Error("the app did not become healthy");
    await new Promise((r) => setTimeout(r, 200));
  }
  // Sign in as a guest the way the browser does (NextAuth credentials), then make a room.
  const jar = new Map<string, string>();
  const keep = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair = ""] = c.split(";");
      const eq = pair.indexOf("=");
      jar.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const csrf = await fetch(`${base}/api/auth/csrf`);
  keep(csrf);
  const { csrfToken } = (await csrf.json()) as { csrfToken: string };
  const signIn = await fetch(`${base}/api/auth/callback/guest`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", cookie: cookie() },
    body: new URLSearchParams({ csrfToken, displayName: "Bench", json: "true" }),
    redirect: "manual",
  });
  keep(signIn);
  const created = await fetch(`${base}/api/rooms`, {
    method: "POST",
    headers: { "Content-Type": "application/json", cookie: cookie() },
    body: "{}",
  });
  if (!created.ok) throw new Error(`could not sign in and make a room: ${created.status}`);
  const { room } = (await created.json()) as { room: { id: string } };
  return { kind: "app", child, port, cookie: cookie(), roomId: room.id };
}

/** This file in another mode: "serve" (files handlers) or "raw" (transport only). */
async function startHelper(dir: string, mode: "serve" | "raw", children: ChildProcess[]) {
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags(),
      "--import",
      "./scripts/node-hooks.mjs",
      "--import",
      "tsx",
      "bench/files.ts",
      mode,
    ],
    {
      env: { ...process.env, BENCH_DATA_DIR: path.join(dir, `${mode}-data`), LOG_LEVEL: "warn" },
      // The helper exits when its stdin closes, so it never outlives this process.
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  children.push(child);
  const ready = await new Promise<{ port: number; cookie: string; roomId: string }>(
    (resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`bench ${mode} server exited with ${code}`)));
      // The first JSON line is the address; anything else (--trace-gc) passes through.
      createInterface({ input: child.stdout! }).on("line", (line) => {
        if (line.startsWith("{")) resolve(JSON.parse(line));
        else console.error(line);
      });
    },
  );
  return { child, ...ready };
}

/** Extra Node flags for the servers, for investigating (e.g. "--cpu-prof --trace-gc"). */
function nodeFlags(): string[] {
  return (process.env.BENCH_NODE_FLAGS ?? "").split(/\s+/).filter(Boolean);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
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

  // PGlite in memory, as the app's run has its own in DATA_DIR: never DATABASE_URL's
  // database, where the bench user and room stayed behind after every run.
  const database = await openDatabase({ kind: "pglite" });
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
      userQuotaBytes: 64 * 1024 ** 3,
      roomQuotaBytes: 64 * 1024 ** 3,
      maxPendingUploads: 10,
    },
  });
  const token = randomBytes(16).toString("hex");
  const authenticate = async (cookie: string | undefined) =>
    cookie?.includes(`bench-session=${token}`) ? user : null;
  const feature = startFilesFeature(files, { authenticate });
  const server = createServer((req, res) => {
    if (feature.handleRequest?.(req, res)) return;
    res.writeHead(404).end();
  });
  announce(server, { cookie: `bench-session=${token}`, roomId: room.room.id });
}

/** The transport alone, for reference: bytes over loopback HTTP to and from disk, nothing else. */
async function serveRaw() {
  const { createServer } = await import("node:http");
  const { mkdir } = await import("node:fs/promises");
  await mkdir(process.env.BENCH_DATA_DIR!, { recursive: true });
  const rawFile = path.join(process.env.BENCH_DATA_DIR!, "raw.bin");
  const server = createServer((req, res) => {
    if (req.method === "PUT") {
      void pipeline(req, createWriteStream(rawFile)).then(() => res.writeHead(200).end());
    } else {
      void pipeline(createReadStream(rawFile, { highWaterMark: MB }), res).catch(() => {});
    }
  });
  announce(server, { cookie: "", roomId: "" });
}

/** Listens on a free loopback port and tells the parent, then lives as long as its stdin. */
function announce(server: HttpServer, extra: { cookie: string; roomId: string }) {
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`${JSON.stringify({ port, ...extra })}\n`);
  });
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
  process.on("SIGTERM", () => process.exit(0));
}
