import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { z } from "zod";
import { childPids } from "./proc";

/**
 * The servers under test, each a child process this bench starts and stops by PID: Parley's
 * web node (production build, as `npm start` runs it) and the bare Socket.IO server.
 */
export interface RunningServer {
  name: "parley" | "bare";
  url: string;
  pid: number;
  /** Other processes whose CPU is the server's too (Postgres backends), found on demand. */
  extraPids: () => Promise<number[]>;
  /** Counters of the database server (Postgres only): statements and rows per message. */
  databaseStats?: () => Promise<Record<string, number>>;
  stop(): Promise<void>;
}

const NODE_HOOKS = ["--import", "./scripts/node-hooks.mjs", "--import", "tsx"];

const BUILD_ID = path.join(".next", "BUILD_ID");

export async function ensureBuild(log: (line: string) => void): Promise<void> {
  if (existsSync(BUILD_ID)) return;
  log("no production build (.next/BUILD_ID): running npm run build");
  const result = spawnSync("npm", ["run", "build"], {
    stdio: ["ignore", 2, 2],
    timeout: 15 * 60_000,
  });
  if (result.status === 0) return;
  // Someone else's build in this tree holds Next's lock (and removed BUILD_ID): wait for it.
  log("the build failed (another build running?): waiting up to 10 min for .next/BUILD_ID");
  const deadline = Date.now() + 10 * 60_000;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    if (existsSync(BUILD_ID)) return;
  }
  throw new Error("npm run build failed and no build appeared");
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A fresh database on the Postgres server of `adminUrl`, dropped by `drop`. */
export async function createBenchDatabase(adminUrl: string) {
  const { Client } = (await import("pg")).default;
  const name = `parley_bench_${randomBytes(6).toString("hex")}`;
  const admin = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    /** The server processes of this database's connections: the web node's pool. */
    async backendPids(): Promise<number[]> {
      const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
      await client.connect();
      try {
        const { rows } = await client.query<{ pid: number }>(
          "select pid from pg_stat_activity where datname = $1",
          [name],
        );
        return rows.map((r) => r.pid);
      } finally {
        await client.end();
      }
    },
    /** Transactions and row counts of this database since it was made (pg_stat_database). */
    async stats(): Promise<Record<string, number>> {
      const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
      await client.connect();
      try {
        // Backends report their counters when idle, at most once a second: let them.
        await new Promise((resolve) => setTimeout(resolve, 1100));
        const { rows } = await client.query<Record<string, string>>(
          `select xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated,
                  blks_read, blks_hit
           from pg_stat_database where datname = $1`,
          [name],
        );
        return Object.fromEntries(Object.entries(rows[0] ?? {}).map(([k, v]) => [k, Number(v)]));
      } finally {
        await client.end();
      }
    },
    async drop(): Promise<void> {
      const client = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 5000 });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Stops a child: SIGTERM, then SIGKILL (and its own children, found first) if it lingers. */
async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const orphans = childPids(child.pid);
  child.kill("SIGTERM");
  const timer = new Promise<boolean>((resolve) =>
    setTimeout(() => resolve(false), graceMs).unref(),
  );
  const done = await Promise.race([exited.then(() => true), timer]);
  if (done) return;
  for (const pid of orphans) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  child.kill("SIGKILL");
  await exited;
}

async function waitForHealth(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the web node exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(5000) });
      if (res.status === 200) return;
      last = `status ${res.status}: ${(await res.text()).slice(0, 200)}`;
    } catch (err) {
      last = String(err);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`the web node did not become healthy in ${timeoutMs / 1000} s (${last})`);
}

export async function startParley(options: {
  databaseUrl?: string;
  backendPids?: () => Promise<number[]>;
  databaseStats?: () => Promise<Record<string, number>>;
  profileDir?: string;
  log: (line: string) => void;
}): Promise<RunningServer> {
  const dataDir = await mkdtemp(path.join(tmpdir(), "parley-bench-chat-"));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [
      ...(options.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`] : []),
      ...NODE_HOOKS,
      "server.ts",
    ],
    {
      env: {
        ...process.env,
        NODE_ENV: "production",
        HOST: "127.0.0.1",
        PORT: String(port),
        DATA_DIR: dataDir,
        DATABASE_URL: options.databaseUrl ?? "",
        REDIS_URL: "",
        PUBLIC_URL: "",
        LOG_LEVEL: "warn",
        // The load is the point; the per-user write limit must not shape it.
        CHAT_RATE_POINTS: "100000000",
        // Every bot signs in as a guest from this one address.
        GUEST_RATE_POINTS: "100000000",
        AUTH_SECRET: randomBytes(32).toString("hex"),
        CALL_TOKEN_SECRET: randomBytes(32).toString("hex"),
        FILES_MASTER_KEY: randomBytes(32).toString("hex"),
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const forward = (stream: NodeJS.ReadableStream | null) => {
    if (stream)
      createInterface({ input: stream }).on("line", (line) => options.log(`[parley] ${line}`));
  };
  forward(child.stdout);
  forward(child.stderr);
  const stop = async () => {
    await stopChild(child, 15_000);
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitForHealth(url, child, 120_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    name: "parley",
    url,
    pid: child.pid!,
    extraPids: options.backendPids ?? (() => Promise.resolve([])),
    databaseStats: options.databaseStats,
    stop,
  };
}

export async function startBare(options: {
  profileDir?: string;
  log: (line: string) => void;
}): Promise<RunningServer> {
  const { log } = options;
  const profile = options.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`] : [];
  const child = spawn(
    process.execPath,
    [...profile, ...NODE_HOOKS, "bench/bare-socketio-server.ts"],
    {
      env: { ...process.env, PORT: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  if (child.stderr)
    createInterface({ input: child.stderr }).on("line", (line) => log(`[bare] ${line}`));
  const stop = () => stopChild(child, 5000);
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the bare server did not start")), 30_000);
      child.once("exit", (code) => reject(new Error(`the bare server exited with ${code}`)));
      createInterface({ input: child.stdout! }).once("line", (line) => {
        clearTimeout(timer);
        let json: unknown;
        try {
          json = JSON.parse(line);
        } catch {
          json = line;
        }
        const parsed = z.object({ port: z.number().int() }).safeParse(json);
        if (parsed.success) resolve(parsed.data.port);
        else reject(new Error(`the bare server said ${line}`));
      });
    });
    return {
      name: "bare",
      url: `http://127.0.0.1:${port}`,
      pid: child.pid!,
      extraPids: () => Promise.resolve([]),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
