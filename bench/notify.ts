/**
 * Notifications' fan-out (issue 12): `npm run bench:notify` prints JSON on stdout, progress
 * on stderr. A room of 2,000 members, 1,000 of them with a subscribed device; one `@room`
 * message. Measures the time from the send until every push request has been handed to the
 * (local) push service, the web node's CPU for it, and how much the send path of other
 * rooms slows meanwhile (their acks' p99, beside the fan-out versus without it).
 *
 * In-process like the server tests: the web node's realtime half (Socket.IO, the chat
 * handlers, the fan-out) over PGlite, or with --db postgres a fresh database of its own on
 * TEST_DATABASE_URL's server (dropped at the end, as bench:search does), real VAPID signing and
 * aes128gcm encryption per device; the push service is a child process that answers 201.
 * Options: --db pglite|postgres --members N --subscribed N --rounds N --cpu-percent N
 * (PUSH_WORKER_CPU_PERCENT).
 */
import { fork } from "node:child_process";
import { createECDH, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createHistogram, type RecordableHistogram } from "node:perf_hooks";
import { sql } from "drizzle-orm";
import { encode } from "next-auth/jwt";
import { io as connect, type Socket } from "socket.io-client";
import webpush from "web-push";
import { z } from "zod";
import type { Database } from "@/lib/db/client";
import { parseEnv } from "@/lib/env";
import { startNotify } from "@/lib/notify/node";
import { createRealtime } from "@/lib/realtime/server";
import { setRuntime } from "@/lib/server/runtime";
import { openTestDatabase } from "@/test/support/db";
import type { TrafficCommand, TrafficMessage } from "./notify/traffic";
import { processCpuSeconds } from "./chat/proc";
import { bootstrapInterval, percentiles, round } from "./stats";

const round1 = (ms: number) => round(ms, 1);

const args = process.argv.slice(2);
const opt = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const MEMBERS = opt("members", 2000);
const SUBSCRIBED = opt("subscribed", 1000);
const ROUNDS = opt("rounds", 15);
const CPU_PERCENT = opt("cpu-percent", 50);
const dbAt = args.indexOf("--db");
const dbChoice = z.enum(["pglite", "postgres"]).safeParse(dbAt >= 0 ? args[dbAt + 1] : "pglite");
if (!dbChoice.success) throw new Error("--db must be pglite or postgres");
const DB = dbChoice.data;
/** Other rooms' sends: one every this many ms, from one sender per room, round robin. */
const OTHER_SEND_EVERY_MS = 10;
const OTHER_ROOMS = 10;
const log = (line: string) => process.stderr.write(`[bench:notify] ${line}\n`);

const SECRET = randomBytes(32).toString("base64url");
const vapid = webpush.generateVAPIDKeys();

async function main() {
  if (DB === "postgres" && !process.env.TEST_DATABASE_URL)
    throw new Error(
      "TEST_DATABASE_URL is not set: name a Postgres server (e.g. postgres://postgres@127.0.0.1:5432/postgres) or leave out --db postgres",
    );
  // A fresh database: the seed's users and rooms go nowhere else, and every run starts empty.
  // PGlite in a data directory of its own, as the app runs it (DATA_DIR): in memory, its
  // files grow by copying (Emscripten's MEMFS copies a whole file to grow it by an eighth),
  // and writing the log held the main thread for 100–200 ms now and then, as the app never does.
  const pgliteDir =
    DB === "pglite" ? mkdtempSync(path.join(tmpdir(), "parley-bench-notify-")) : undefined;
  const database = await openTestDatabase(DB, { dataDir: pgliteDir });
  const db = database.db;

  const sink = fork(path.join(import.meta.dirname, "notify", "push-sink.mjs"));
  const sinkPort = await new Promise<number>((resolve) =>
    sink.once("message", (m: { port: number }) => resolve(m.port)),
  );
  const sinkOrigin = `http://127.0.0.1:${sinkPort}`;

  log(`seeding ${MEMBERS} members, ${SUBSCRIBED} subscribed`);
  const ownerId = await seed(db, sinkOrigin);

  const env = parseEnv({
    NODE_ENV: "production",
    PUSH_INSECURE_ORIGINS: sinkOrigin,
    CHAT_RATE_POINTS: "100000",
    SOCKET_COMMAND_BURST: "100000",
    SOCKET_COMMAND_RATE_PER_S: "100000",
    MENTION_ROOM_MAX_MEMBERS: String(MEMBERS * 2),
    PUSH_WORKER_CPU_PERCENT: String(CPU_PERCENT),
    LOG_LEVEL: "warn",
  });
  const httpServer = createServer((_req, res) => res.writeHead(404).end());
  const realtime = await createRealtime({ httpServer, env, database });
  setRuntime({
    config: env,
    secrets: {
      authSecret: SECRET,
      callTokenSecret: SECRET,
      filesMasterKey: "0".repeat(64),
      vapidPublicKey: vapid.publicKey,
      vapidPrivateKey: vapid.privateKey,
    },
    database,
    io: realtime.io,
    readiness: new Map(),
    services: {},
  });
  let fanoutDone: ((ms: number) => void) | null = null;
  let lastResult: unknown = null;
  const notify = startNotify({
    io: realtime.io,
    db: () => db,
    env,
    vapid,
    onFanout: (event, result) => {
      if (event.roomId === BIG_ROOM && result) {
        lastResult = result;
        fanoutDone?.(performance.now());
      }
    },
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  const cookie = async (userId: string) =>
    `next-auth.session-token=${await encode({ token: { sub: userId, name: "bench" }, secret: SECRET })}`;
  const client = async (userId: string) => {
    const socket: Socket = connect(url, {
      transports: ["websocket"],
      extraHeaders: { cookie: await cookie(userId) },
      forceNew: true,
      reconnection: false,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("connect_error", reject);
    });
    return socket;
  };
  const ask = (socket: Socket, name: string, payload: unknown) =>
    socket.timeout(10_000).emitWithAck(name, payload) as Promise<{ ok: boolean; data?: unknown }>;

  const owner = await client(ownerId);

  // Other rooms' traffic, from a child process (bench/notify/traffic.ts): a send every
  // OTHER_SEND_EVERY_MS on a fixed schedule, each ack's latency counted from its slot.
  const traffic = fork(path.join(import.meta.dirname, "notify", "traffic.ts"), [], {
    execArgv: ["--import", "./scripts/node-hooks.mjs", "--import", "tsx"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const trafficSays = <T extends TrafficMessage["type"]>(type: T) =>
    new Promise<Extract<TrafficMessage, { type: T }>>((resolve) => {
      const on = (m: TrafficMessage) => {
        if (m.type !== type) return;
        traffic.off("message", on);
        resolve(m as Extract<TrafficMessage, { type: T }>);
      };
      traffic.on("message", on);
    });
  const tell = async <T extends TrafficMessage["type"]>(command: TrafficCommand, reply: T) => {
    const answer = trafficSays(reply);
    traffic.send(command);
    return answer;
  };
  await tell(
    {
      type: "start",
      url,
      senders: await Promise.all(
        OTHER_ROOM_SENDERS.map(async (s) => ({ cookie: await cookie(s.userId), roomId: s.roomId })),
      ),
      everyMs: OTHER_SEND_EVERY_MS,
    },
    "ready",
  );

  // Warm up: one fan-out (JIT, connection pools, the VAPID JWT).
  const rounds: {
    handedOffMs: number;
    fanoutMs: number;
    cpuMs: number;
    mainThreadCpuMs: number;
    sinkCpuMs: number;
    trafficCpuMs: number;
  }[] = [];
  const latencies = { baseline: [] as number[], fanout: [] as number[] };
  /** The same samples by round, for the p99 rise's interval (a round's samples move together). */
  const byRound: { baseline: number[]; fanout: number[] }[] = [];
  let failedSends = 0;
  // The web node's event loop delay in each phase, pooled over the rounds: whether a slower
  // ack waited on the main thread (its own work, its garbage collection) or elsewhere.
  const loopDelay = { baseline: createHistogram(), fanout: createHistogram() };
  const watchLoop = (into: RecordableHistogram) => {
    // A 1 ms timer's lateness, in µs (monitorEventLoopDelay's histograms cannot be pooled).
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      into.record(Math.max(1, Math.round((now - last - 1) * 1000)));
      last = now;
    }, 1);
    return () => clearInterval(timer);
  };
  for (let round = 0; round <= ROUNDS; round++) {
    await tell({ type: "phase", phase: "baseline" }, "phase");
    const base0 = process.cpuUsage();
    const baseMain0 = process.threadCpuUsage();
    const baseT0 = performance.now();
    const baseLoop = watchLoop(loopDelay.baseline);
    await new Promise((r) => setTimeout(r, 1500));
    baseLoop();
    const baseCpu = process.cpuUsage(base0);
    const baseMain = process.threadCpuUsage(baseMain0);
    // The other rooms' traffic costs CPU too: its rate, to take out of the fan-out's.
    const baseMs = performance.now() - baseT0;
    const trafficCpuPerMs = (baseCpu.user + baseCpu.system) / 1000 / baseMs;
    const trafficMainPerMs = (baseMain.user + baseMain.system) / 1000 / baseMs;
    const reached = new Promise<number>((resolve) => {
      sink.once("message", () => resolve(performance.now()));
    });
    sink.send({ type: "expect", n: SUBSCRIBED });
    const done = new Promise<number>((resolve) => (fanoutDone = resolve));
    await tell({ type: "phase", phase: "fanout" }, "phase");
    const cpu0 = process.cpuUsage();
    const main0 = process.threadCpuUsage();
    const helpers0 = [processCpuSeconds(sink.pid!) ?? 0, processCpuSeconds(traffic.pid!) ?? 0];
    const t0 = performance.now();
    const fanoutLoop = watchLoop(loopDelay.fanout);
    const ack = await ask(owner, "message.send", {
      roomId: BIG_ROOM,
      clientId: crypto.randomUUID(),
      body: "@room the all-hands starts in 5 minutes",
    });
    if (!ack.ok) throw new Error(`send failed: ${JSON.stringify(ack)}`);
    const finished = await done;
    const handedOff = await Promise.race([
      reached,
      new Promise<number>((_, reject) =>
        setTimeout(
          () =>
            reject(
              new Error(`the push service did not get every push: ${JSON.stringify(lastResult)}`),
            ),
          10_000,
        ),
      ),
    ]);
    fanoutLoop();
    const cpu = process.cpuUsage(cpu0);
    const mainCpu = process.threadCpuUsage(main0);
    const helpers = [processCpuSeconds(sink.pid!) ?? 0, processCpuSeconds(traffic.pid!) ?? 0];
    await tell({ type: "phase", phase: "idle" }, "phase");
    const taken = await tell({ type: "take" }, "samples");
    if (round === 0) {
      // The devices' last_success_at, written a couple of seconds after a fan-out (the first
      // of the hour; later rounds find them fresh): written now, not in round 1's baseline.
      await notify.flushUsed();
      loopDelay.baseline.reset();
      loopDelay.fanout.reset();
      log("warm-up done");
      continue;
    }
    latencies.baseline.push(...taken.baseline);
    latencies.fanout.push(...taken.fanout);
    byRound.push({ baseline: taken.baseline, fanout: taken.fanout });
    failedSends += taken.failed;
    rounds.push({
      handedOffMs: handedOff - t0,
      fanoutMs: finished - t0,
      cpuMs: (cpu.user + cpu.system) / 1000 - trafficCpuPerMs * (finished - t0),
      mainThreadCpuMs: (mainCpu.user + mainCpu.system) / 1000 - trafficMainPerMs * (finished - t0),
      sinkCpuMs: (helpers[0]! - helpers0[0]!) * 1000,
      trafficCpuMs: (helpers[1]! - helpers0[1]!) * 1000,
    });
    log(`round ${round}: ${Math.round(handedOff - t0)} ms to hand off ${SUBSCRIBED} pushes`);
  }
  traffic.send({ type: "stop" } satisfies TrafficCommand);

  const at = (xs: number[], points: number[]) => percentiles([Float64Array.from(xs)], points);
  const median = (xs: number[]) => at(xs, [50]).p50!;
  const spread = (xs: number[]) => {
    const q = at(xs, [0, 50, 100]);
    return { median: round1(q.p50!), min: round1(q.p0!), max: round1(q.max!) };
  };
  const base = at(latencies.baseline, [50, 95, 99, 100]);
  const during = at(latencies.fanout, [50, 95, 99, 100]);
  const loop = (h: RecordableHistogram) => ({
    p50: round(h.percentile(50) / 1000, 2),
    p99: round(h.percentile(99) / 1000, 2),
    max: round(h.max / 1000, 2),
  });
  const rise = (from: number | null, to: number | null) =>
    from && to ? Math.round(((to - from) / from) * 100) : null;
  const p99 = (xs: number[]) => at(xs, [99]).p99 ?? null;
  const p99Rise = (rounds: readonly { baseline: number[]; fanout: number[] }[]) =>
    rise(p99(rounds.flatMap((r) => r.baseline)), p99(rounds.flatMap((r) => r.fanout)));
  const result = {
    bench: "notify",
    database: database.kind,
    members: MEMBERS,
    subscribed: SUBSCRIBED,
    rounds: ROUNDS,
    pushWorkerCpuPercent: CPU_PERCENT,
    handOffMs: spread(rounds.map((r) => r.handedOffMs)),
    fanoutDoneMs: { median: round1(median(rounds.map((r) => r.fanoutMs))) },
    /** The web node's CPU from the send to the fan-out's end, less the other rooms' traffic. */
    webNodeCpuMs: {
      median: round1(median(rounds.map((r) => r.cpuMs))),
      /** Of it, the main thread's (Socket.IO, the database on PGlite, the recipients' pages). */
      mainThread: round1(median(rounds.map((r) => r.mainThreadCpuMs))),
    },
    /**
     * The benchmark's own processes on the same cores meanwhile (clock ticks, /proc): the
     * push service stand-in and the other rooms' clients, which would be elsewhere.
     */
    helperCpuMs: {
      pushService: round1(median(rounds.map((r) => r.sinkCpuMs))),
      otherRoomsClients: round1(median(rounds.map((r) => r.trafficCpuMs))),
    },
    /** Pooled over the rounds; latency from each send's slot on the schedule to its ack. */
    otherRoomsSendAckMs: {
      baseline: { samples: latencies.baseline.length, ...base },
      duringFanout: { samples: latencies.fanout.length, ...during },
      failed: failedSends,
      p95RisePercent: rise(base.p95!, during.p95!),
      p99RisePercent: rise(base.p99!, during.p99!),
      /**
       * How sure that figure is: the middle 95 % of the p99 rise over the rounds drawn with
       * replacement 2,000 times (a round's samples move together: one slow round can carry
       * the pooled p99).
       */
      p99RiseInterval95: bootstrapInterval(byRound, p99Rise),
      target: "p99 rises by at most 20 %",
    },
    /** How late the web node's main thread ran a 1 ms timer, pooled over the rounds. */
    webNodeEventLoopDelayMs: {
      baseline: loop(loopDelay.baseline),
      duringFanout: loop(loopDelay.fanout),
    },
  };
  process.stdout.write(JSON.stringify(result, null, 2) + "\n");

  await notify.stop();
  owner.disconnect();
  await realtime.close();
  httpServer.closeAllConnections();
  httpServer.close();
  sink.kill();
  await database.close();
  if (pgliteDir) rmSync(pgliteDir, { recursive: true, force: true });
}

let BIG_ROOM = "";
const OTHER_ROOM_SENDERS: { userId: string; roomId: string }[] = [];

/** Users, the big room and its members, the devices, and the other rooms: in bulk SQL. */
async function seed(db: Database["db"], sinkOrigin: string) {
  const rows = (await db.execute(sql`
    insert into users (display_name, email)
    select 'Member ' || g, 'm' || g || '@bench.test' from generate_series(1, ${MEMBERS}) g
    returning id`)) as unknown as { rows: { id: string }[] };
  const ids = rows.rows.map((r) => r.id);
  const big = (await db.execute(sql`
    insert into rooms (slug, name, kind, created_by)
    values ('bench0-bench0-bench0', 'All hands', 'open', ${ids[0]}) returning id`)) as unknown as {
    rows: { id: string }[];
  };
  BIG_ROOM = big.rows[0]!.id;
  await db.execute(sql`
    insert into room_members (room_id, user_id, role)
    select ${BIG_ROOM}, id, case when id = ${ids[0]} then 'owner' else 'member' end::member_role
    from users`);
  // Devices: real P-256 keys, so each push is really encrypted for its device.
  const values = [];
  for (let i = 1; i <= SUBSCRIBED; i++) {
    const ecdh = createECDH("prime256v1");
    ecdh.generateKeys();
    values.push(
      sql`(${ids[i]}, ${`${sinkOrigin}/push/${i}`}, ${ecdh.getPublicKey().toString("base64url")}, ${randomBytes(16).toString("base64url")}, 'bench')`,
    );
  }
  for (let i = 0; i < values.length; i += 250) {
    await db.execute(
      sql`insert into push_subscriptions (user_id, endpoint, p256dh, auth, label) values ${sql.join(values.slice(i, i + 250), sql`, `)}`,
    );
  }
  for (let r = 0; r < OTHER_ROOMS; r++) {
    const sender = ids[MEMBERS - 1 - r]!;
    const room = (await db.execute(sql`
      insert into rooms (slug, name, kind, created_by)
      values (${`other${r}-bench0-bench0`}, ${`Other ${r}`}, 'open', ${sender}) returning id`)) as unknown as {
      rows: { id: string }[];
    };
    const roomId = room.rows[0]!.id;
    await db.execute(
      sql`insert into room_members (room_id, user_id, role) values (${roomId}, ${sender}, 'owner')`,
    );
    OTHER_ROOM_SENDERS.push({ userId: sender, roomId });
  }
  return ids[0]!;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
