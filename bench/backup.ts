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
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { sql } from "drizzle-orm";
import { encode } from "next-auth/jwt";
import { io as connect, type Socket } from "socket.io-client";
import { z } from "zod";
import { doCreateGuest } from "@/lib/auth/service";
import { openDatabase } from "@/lib/db/client";
import { migrateDatabase } from "@/lib/db/migrate";
import { attachments } from "@/lib/db/schema";
import { MasterKeys, parseMasterKey } from "@/lib/files/crypto/encryption";
import { DiskStorage } from "@/lib/files/disk-storage";
import { writeObject } from "@/lib/files/objects";
import { newStorageKey } from "@/lib/files/storage";
import { doCreateRoom, doJoinRoomBySlug } from "@/lib/rooms/service";
import { loadSecrets } from "@/lib/server/secrets";

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
const FILE_SIZE = 64 * 1024 * 1024;
const MB = 1024 * 1024;
const NODE_ARGS = ["--import", "./scripts/node-hooks.mjs", "--import", "tsx"];

const log = (line: string) =>
  process.stderr.write(`[bench:backup ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

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
    return round(peak / MB);
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

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return round(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!, 2);
}

const latencyReport = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    sends: sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: round(sorted.at(-1) ?? NaN, 2),
  };
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
  await db.execute(sql`
    insert into messages (room_id, author_id, client_id, seq, body)
    select ${room.id}, ${users[0]!.id}, gen_random_uuid(), n,
           'Message ' || n || ': ' || repeat('lorem ipsum ', 1 + n % 20)
    from generate_series(1, ${MESSAGES}) as n`);
  await db.execute(sql`
    insert into room_events (room_id, seq, type, actor_id, message_id)
    select room_id, seq, 'message.created', author_id, id from messages where room_id = ${room.id}`);
  await db.execute(sql`update rooms set last_seq = ${MESSAGES} where id = ${room.id}`);
  const storage = await DiskStorage.create(path.join(dataDir, "files", "objects"));
  const keys = new MasterKeys(parseMasterKey(secrets.filesMasterKey));
  for (let written = 0; written < FILE_BYTES;) {
    const size = Math.min(FILE_SIZE, FILE_BYTES - written);
    const key = newStorageKey();
    const chunk = randomBytes(MB);
    await writeObject(
      storage,
      keys,
      key,
      Readable.from(
        (function* () {
          for (let left = size; left > 0; left -= MB) yield chunk.subarray(0, Math.min(MB, left));
        })(),
      ),
    );
    await db.insert(attachments).values({
      roomId: room.id,
      uploaderId: users[0]!.id,
      name: `file-${written}.bin`,
      size,
      mimeType: "application/octet-stream",
      storageKey: key,
    });
    written += size;
  }
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
    round(Number(/VmRSS:\s+(\d+)/.exec(s)?.[1]) / 1024),
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
          MBps: round(archiveBytes / MB / backup.seconds),
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
