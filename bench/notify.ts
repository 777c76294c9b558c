/**
 * Notifications' fan-out (issue 12): `npm run bench:notify` prints JSON on stdout, progress
 * on stderr. A room of 2,000 members, 1,000 of them with a subscribed device; one `@room`
 * message. Measures the time from the send until every push request has been handed to the
 * (local) push service, the web node's CPU for it, and how much the send path of other
 * rooms slows meanwhile (their acks' p99, beside the fan-out versus without it).
 *
 * In-process like the server tests: the web node's realtime half (Socket.IO, the chat
 * handlers, the fan-out) over PGlite (or DATABASE_URL's Postgres), real VAPID signing and
 * aes128gcm encryption per device; the push service is a child process that answers 201.
 * Options: --members N --subscribed N --rounds N.
 */
import { fork } from "node:child_process";
import { createECDH, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { sql } from "drizzle-orm";
import { encode } from "next-auth/jwt";
import { io as connect, type Socket } from "socket.io-client";
import webpush from "web-push";
import { openDatabase } from "@/lib/db/client";
import { migrateDatabase } from "@/lib/db/migrate";
import { parseEnv } from "@/lib/env";
import { startNotify } from "@/lib/notify/node";
import { createRealtime } from "@/lib/realtime/server";
import { setRuntime } from "@/lib/server/runtime";

const args = process.argv.slice(2);
const opt = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const MEMBERS = opt("members", 2000);
const SUBSCRIBED = opt("subscribed", 1000);
const ROUNDS = opt("rounds", 5);
/** Other rooms' sends: one every this many ms, from one sender per room, round robin. */
const OTHER_SEND_EVERY_MS = 10;
const OTHER_ROOMS = 10;
const log = (line: string) => process.stderr.write(`[bench:notify] ${line}\n`);

const SECRET = randomBytes(32).toString("base64url");
const vapid = webpush.generateVAPIDKeys();

async function main() {
  const database = process.env.DATABASE_URL
    ? await openDatabase({ kind: "postgres", url: process.env.DATABASE_URL })
    : await openDatabase({ kind: "pglite" });
  await migrateDatabase(database);
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
  const client = async (userId: string) => {
    const token = await encode({ token: { sub: userId, name: "bench" }, secret: SECRET });
    const socket: Socket = connect(url, {
      transports: ["websocket"],
      extraHeaders: { cookie: `next-auth.session-token=${token}` },
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
  const others = await Promise.all(OTHER_ROOM_SENDERS.map((s) => client(s.userId)));

  // Other rooms' traffic: a send every OTHER_SEND_EVERY_MS, its ack latency recorded.
  let phase: "idle" | "baseline" | "fanout" = "idle";
  const latencies = { baseline: [] as number[], fanout: [] as number[] };
  let turn = 0;
  const ticker = setInterval(() => {
    if (phase === "idle") return;
    const which = phase;
    const i = turn++ % others.length;
    const t0 = performance.now();
    void ask(others[i]!, "message.send", {
      roomId: OTHER_ROOM_SENDERS[i]!.roomId,
      clientId: crypto.randomUUID(),
      body: "traffic",
    }).then((ack) => {
      if (ack.ok) latencies[which].push(performance.now() - t0);
    });
  }, OTHER_SEND_EVERY_MS);

  // Warm up: one fan-out (JIT, connection pools, the VAPID JWT).
  const rounds: { handedOffMs: number; fanoutMs: number; cpuMs: number }[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    phase = "baseline";
    const base0 = process.cpuUsage();
    const baseT0 = performance.now();
    await new Promise((r) => setTimeout(r, 1500));
    const baseCpu = process.cpuUsage(base0);
    // The other rooms' traffic costs CPU too: its rate, to take out of the fan-out's.
    const trafficCpuPerMs = (baseCpu.user + baseCpu.system) / 1000 / (performance.now() - baseT0);
    const reached = new Promise<number>((resolve) => {
      sink.once("message", () => resolve(performance.now()));
    });
    sink.send({ type: "expect", n: SUBSCRIBED });
    const done = new Promise<number>((resolve) => (fanoutDone = resolve));
    phase = "fanout";
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
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
    const cpu = process.cpuUsage(cpu0);
    phase = "idle";
    if (round === 0) {
      latencies.baseline = [];
      latencies.fanout = [];
      log("warm-up done");
      continue;
    }
    rounds.push({
      handedOffMs: handedOff - t0,
      fanoutMs: finished - t0,
      cpuMs: (cpu.user + cpu.system) / 1000 - trafficCpuPerMs * (finished - t0),
    });
    log(`round ${round}: ${Math.round(handedOff - t0)} ms to hand off ${SUBSCRIBED} pushes`);
  }
  clearInterval(ticker);
  await new Promise((r) => setTimeout(r, 200));

  const p = (xs: number[], q: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length
      ? Math.round(s[Math.min(s.length - 1, Math.floor(q * s.length))]! * 10) / 10
      : null;
  };
  const median = (xs: number[]) => p(xs, 0.5);
  const p99Base = p(latencies.baseline, 0.99);
  const p99Fan = p(latencies.fanout, 0.99);
  const result = {
    bench: "notify",
    database: database.kind,
    members: MEMBERS,
    subscribed: SUBSCRIBED,
    rounds: ROUNDS,
    handOffMs: {
      median: median(rounds.map((r) => r.handedOffMs)),
      max: p(
        rounds.map((r) => r.handedOffMs),
        1,
      ),
    },
    fanoutDoneMs: { median: median(rounds.map((r) => r.fanoutMs)) },
    /** The web node's CPU from the send to the fan-out's end, less the other rooms' traffic. */
    webNodeCpuMs: { median: median(rounds.map((r) => r.cpuMs)) },
    otherRoomsSendAckMs: {
      baseline: {
        samples: latencies.baseline.length,
        p50: median(latencies.baseline),
        p99: p99Base,
      },
      duringFanout: {
        samples: latencies.fanout.length,
        p50: median(latencies.fanout),
        p99: p99Fan,
      },
      p99RisePercent: p99Base && p99Fan ? Math.round(((p99Fan - p99Base) / p99Base) * 100) : null,
      target: "p99 rises by at most 20 %",
    },
  };
  process.stdout.write(JSON.stringify(result, null, 2) + "\n");

  await notify.stop();
  owner.disconnect();
  for (const s of others) s.disconnect();
  await realtime.close();
  httpServer.closeAllConnections();
  httpServer.close();
  sink.kill();
  await database.close();
}

let BIG_ROOM = "";
const OTHER_ROOM_SENDERS: { userId: string; roomId: string }[] = [];

/** Users, the big room and its members, the devices, and the other rooms: in bulk SQL. */
async function seed(db: Awaited<ReturnType<typeof openDatabase>>["db"], sinkOrigin: string) {
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
