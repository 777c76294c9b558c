import { execFile } from "node:child_process";
import { chmod, chown, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { readdirSync } from "node:fs";
import { freePort } from "@/bench/chat/servers";

const run = promisify(execFile);

/**
 * A throwaway Postgres cluster for tests that stop and start the database (issue 9's R2):
 * `initdb` into a temporary directory, served on its own loopback port and socket
 * directory — never the machine's shared cluster. Postgres refuses to run as root, so
 * under root the cluster belongs to the `postgres` user and its tools run as that user.
 */
export interface PgCluster {
  /** A superuser URL for the `postgres` database. */
  url: string;
  port: number;
  start(): Promise<void>;
  /** `fast`: sessions are ended cleanly; `immediate`: no shutdown checkpoint, as a crash. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  destroy(): Promise<void>;
}

/** The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/<n>/bin). */
export function postgresBinDir(): string {
  const root = "/usr/lib/postgresql";
  let versions: string[] = [];
  try {
    versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
  } catch {
    // Not installed.
  }
  if (!versions[0])
    throw new Error(`no PostgreSQL under ${root}: install postgresql to run this test`);
  return path.join(root, versions[0], "bin");
}

export async function startPgCluster(): Promise<PgCluster> {
  const bin = postgresBinDir();
  const dir = await mkdtemp(path.join(tmpdir(), "parley-pg-"));
  const asRoot = process.getuid?.() === 0;
  const tool = (name: string, args: string[]) =>
    asRoot
      ? run("runuser", ["-u", "postgres", "--", path.join(bin, name), ...args])
      : run(path.join(bin, name), args);
  if (asRoot) {
    const { uid, gid } = await postgresIds();
    await chown(dir, uid, gid);
  }
  await chmod(dir, 0o700);
  const data = path.join(dir, "data");
  await tool("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  const port = await freePort();
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`;
  const cluster: PgCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async start() {
      await tool("pg_ctl", ["-D", data, "-o", options, "-l", path.join(dir, "log"), "-w", "start"]);
    },
    async stop(mode = "fast") {
      await tool("pg_ctl", ["-D", data, "-m", mode, "-w", "stop"]);
    },
    async destroy() {
      await cluster.stop("immediate").catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  await cluster.start();
  return cluster;
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const uid = Number((await run("id", ["-u", "postgres"])).stdout.trim());
  const gid = Number((await run("id", ["-g", "postgres"])).stdout.trim());
  return { uid, gid };
}
