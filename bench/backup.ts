/**
 * Backup and restore (issue 13): `npm run bench:backup [-- --messages N --file-mb N]`
 * prints JSON on stdout, progress on stderr.
 *
 * A DATA_DIR with `--messages` messages (default 200,000, with their room events) and
 * `--file-mb` MiB of files (default 2048, in 64 MiB files), served by a node
 * (bench/backup/node.ts: PGlite, the chat, the files, the admin channel) while
 * `--clients` chat clients (default 20) each send 10 messages a second (5 s of warm-up, then
 * 10 s of baseline). Measured:
 *
 * - `npm run backup` against the running node: time, archive size, peak RSS of the node and
 *   of the command; the chat's send → ack latency before and during the backup;
 * - `npm run restore` of that archive into a fresh DATA_DIR: time, peak RSS;
 * - the ceiling: a plain `tar -cf` of the same (stopped) DATA_DIR, and `tar -xf` of it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { encode } from "next-auth/jwt";
import { io as connect, type Socket } from "socket.io-client";
import { z } from "zod";
import { doCreateGuest } from "@/lib/auth/service";
import { openDatabase } from "@/lib/db/client";
import { migrateDatabase } from "@/lib/db/migrate";
import { MasterKeys, parseMasterKey } from "@/lib/files/crypto/encryption";
import { DiskStorage } from "@/lib/files/disk-storage";
import { doCreateRoom, doJoinRoomBySlug } from "@/lib/rooms/service";
import { loadSecrets } from "@/lib/server/secrets";
import { seedFiles, seedMessages } from "./seed";
import { percentiles, round } from "./stats";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "200000" },
    "file-mb": { type: "string", default: "2048" },
    clients: { type: "string", default: "20" },
  },
});
const options = z
  .object({
    messages: z.coerce.number().int().min(1),
    "file-mb": z.coerce.number().int().min(0),
    clients: z.coerce.number().int().min(1).max(200),
  })
  .parse(values);
const MESSAGES = options.messages;
const FILE_BYTES = options["file-mb"] * 1024 * 1024;
const CLIENTS = options.clients;
const MB = 1024 * 1024;
const NODE_ARGS = ["--import", "./scripts/node-hooks.mjs", "--import", "tsx"];

const log = (line: string) =>
  process.stderr.write(`[bench:backup ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

/** Peak resident memory of a process, sampled every 50 ms from /proc. */
function sampleRss(pid: number): () => number {
  let peak = 0;
  const timer = setInterval(() => {
    void readFile(`/proc/${pid}/status`, "utf8")
      .then((status) => {
        const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
        peak = Math.max(peak, kb * 1024);
      })
      .catch(() => {});
  }, 50);
  return () => {
    clearInterval(timer);
    return round(peak / MB, 1);
  };
}

/** Runs a command to its end: wall time and peak RSS. */
async function timed(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ seconds: number; peakRssMB: number }> {
  const started = performance.now();
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const peak = sampleRss(child.pid!);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number>((resolve) => child.once("close", (c) => resolve(c ?? 1)));
  const peakRssMB = peak();
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} failed (${code}): ${stderr}`);
  return { seconds: round((performance.now() - started) / 1000, 2), peakRssMB };
}

const latencyReport = (samples: number[]) => {
  const { p50, p99, max } = percentiles([Float64Array.from(samples)], [50, 99, 100]);
  return { sends: samples.length, p50Ms: p50, p99Ms: p99, maxMs: max };
};

const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? tmpdir(), "parley-bench-backup-"));
const dataDir = path.join(dir, "data");
let node: ChildProcess | null = null;
try {
  log(`seeding ${MESSAGES} messages and ${options["file-mb"]} MiB of files`);
  const secrets = loadSecrets(dataDir);
  const database = await openDatabase({ kind: "pglite", dataDir: path.join(dataDir, "pglite") });
  await migrateDatabase(database);
  const db = database.db;
  const users = [];
  for (let i = 0; i < CLIENTS; i++) users.push(await doCreateGuest(db, `Bench ${i}`));
  const { room } = await doCreateRoom(db, users[0]!, { kind: "open", name: "Bench" });
  for (const user of users.slice(1)) await doJoinRoomBySlug(db, user, room.slug);
  await seedMessages(db, { roomId: room.id, authorId: users[0]!.id, count: MESSAGES });
  await seedFiles(db, {
    storage: await DiskStorage.create(path.join(dataDir, "files", "objects")),
    keys: new MasterKeys(parseMasterKey(secrets.filesMasterKey)),
    roomId: room.id,
    uploaderId: users[0]!.id,
    totalBytes: FILE_BYTES,
  });
  await database.close();

  log("starting the node");
  node = spawn(process.execPath, [...NODE_ARGS, "bench/backup/node.ts"], {
    env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: "warn", CHAT_RATE_POINTS: "100000" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const first = await createInterface({ input: node.stdout! })[Symbol.asyncIterator]().next();
  const { port } = z.object({ port: z.number() }).parse(JSON.parse(String(first.value)));
  const url = `http://127.0.0.1:${port}`;
  const nodeRssBefore = await readFile(`/proc/${node.pid}/status`, "utf8").then((s) =>
    round(Number(/VmRSS:\s+(\d+)/.exec(s)?.[1]) / 1024, 1),
  );

  const sockets: Socket[] = [];
  for (const user of users) {
    const token = await encode({
      token: { sub: user.id, name: user.displayName },
      secret: secrets.authSecret,
    });
    const socket = connect(url, {
      path: "/socket.io/",
      transports: ["websocket"],
      extraHeaders: { cookie: `next-auth.session-token=${token}` },
      reconnection: false,
      forceNew: true,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("connect_error", reject);
    });
    await socket.timeout(10_000).emitWithAck("room.subscribe", { roomId: room.id });
    sockets.push(socket);
  }
  // The first seconds warm the node up (JIT, prepared statements, sockets): not counted.
  let phase: "warmup" | "baseline" | "backup" | "after" = "warmup";
  const latencies = {
    warmup: [] as number[],
    baseline: [] as number[],
    backup: [] as number[],
    after: [] as number[],
  };
  let failed = 0;
  let sending = true;
  const senders = sockets.map(async (socket, i) => {
    for (let n = 0; sending; n++) {
      const started = performance.now();
      const during = phase;
      const answer = (await socket
        .timeout(30_000)
        .emitWithAck("message.send", {
          roomId: room.id,
          clientId: crypto.randomUUID(),
          body: `client ${i} message ${n}`,
        })
        .catch(() => ({ ok: false }))) as { ok: boolean };
      if (answer.ok) latencies[during].push(performance.now() - started);
      else failed++;
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, 100 - (performance.now() - started))),
      );
    }
  });

  await new Promise((resolve) => setTimeout(resolve, 5000));
  phase = "baseline";
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  log("backing up while the clients send");
  phase = "backup";
  const archive = path.join(dir, "parley.backup");
  const nodePeak = sampleRss(node.pid!);
  const backup = await timed(
    process.execPath,
    [...NODE_ARGS, "lib/backup/cli.ts", "backup", archive],
    {
      DATA_DIR: dataDir,
    },
  );
  const nodePeakRssMB = nodePeak();
  phase = "after";
  await new Promise((resolve) => setTimeout(resolve, 5000));
  sending = false;
  await Promise.all(senders);
  for (const socket of sockets) socket.disconnect();
  const archiveBytes = (await stat(archive)).size;
  node.kill("SIGTERM");
  await new Promise((resolve) => node!.once("close", resolve));
  node = null;

  log("restoring into a fresh DATA_DIR");
  const restore = await timed(
    process.execPath,
    [...NODE_ARGS, "lib/backup/cli.ts", "restore", archive],
    {
      DATA_DIR: path.join(dir, "restored"),
    },
  );

  log("the ceiling: tar of the same DATA_DIR");
  const plainTar = path.join(dir, "plain.tar");
  const tarCreate = await timed("tar", ["-cf", plainTar, "-C", dataDir, "."], {});
  await rm(path.join(dir, "untarred"), { recursive: true, force: true });
  await mkdir(path.join(dir, "untarred"));
  const tarExtract = await timed("tar", ["-xf", plainTar, "-C", path.join(dir, "untarred")], {});

  process.stdout.write(
    `${JSON.stringify(
      {
        messages: MESSAGES,
        fileBytes: FILE_BYTES,
        clients: CLIENTS,
        loadAverage: loadavg().map((l) => round(l, 2)),
        backup: {
          ...backup,
          archiveBytes,
          MBps: round(archiveBytes / MB / backup.seconds, 1),
          nodeRssBeforeMB: nodeRssBefore,
          nodePeakRssMB,
        },
        restore,
        tar: {
          create: tarCreate,
          extract: tarExtract,
          bytes: (await stat(plainTar)).size,
        },
        ratio: {
          backupVsTar: round(backup.seconds / tarCreate.seconds, 2),
          restoreVsUntar: round(restore.seconds / tarExtract.seconds, 2),
        },
        chatSendAck: {
          baseline: latencyReport(latencies.baseline),
          duringBackup: latencyReport(latencies.backup),
          after: latencyReport(latencies.after),
          failed,
        },
      },
      null,
      2,
    )}\n`,
  );
} finally {
  if (node) {
    node.kill("SIGTERM");
    await new Promise((resolve) => node!.once("close", resolve));
  }
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
