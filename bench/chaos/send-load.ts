import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { io as connect } from "socket.io-client";
import { type Database, openDatabase } from "@/lib/db/client";
import { queryRows } from "@/lib/db/sql";
import { sql } from "drizzle-orm";
import type { MessageView } from "@/lib/chat/schemas";
import type { TestSocket } from "@/test/support/realtime-server";
import { progress, sleep } from "./row";
import type { WebNodeReady } from "./web-node";

/**
 * The load under R1 and R2: clients sending through a web node (a child process, so it can
 * be killed), each as the app's outbox does — one message in flight, retried with the same
 * client id until acked, across reconnects — while `fault` strikes at set points. Then the
 * database is checked: every acked message stored once, no message twice, every room's seq
 * without a gap, every outbox empty.
 */
export interface LoadOptions {
  /** `pglite:<dir>` or a postgres:// URL (the database the web node uses). */
  db: string;
  clients: number;
  rooms: number;
  sends: number;
  /** How many times `fault` strikes, spread evenly over the sends. */
  faults: number;
  /** The fault (kill the node, restart the database…), given the running node. */
  fault: (node: WebNode) => Promise<void>;
  /** Give up (and fail) if the sends are not all acked by then. */
  timeoutMs: number;
}

export interface LoadFigures {
  sends: number;
  acked: number;
  faults: number;
  ackedButLost: number;
  duplicates: number;
  roomsWithSeqGaps: number;
  outboxesNotDrained: number;
  /** Send attempts answered with an error (e.g. `unavailable`), then retried. */
  failedAttempts: number;
  /** Send attempts never answered (the node died or the ack timed out), then retried. */
  unansweredAttempts: number;
  /** The web node exiting without being killed: a crash. */
  crashes: number;
  /** The longest a message waited from first try to ack, across the faults. */
  worstAckMs: number;
  /** The web node's longest main-thread stall (its watchdog's log). */
  nodeWorstStallMs: number;
}

const NODE_HOOKS = ["--import", "./scripts/node-hooks.mjs", "--import", "tsx"];

/** The web node child: its URL, and kill/restart. */
export class WebNode {
  private child: ChildProcess | null = null;
  url = "";
  restarts = 0;
  /** The longest main-thread stall any of its processes logged. */
  worstStallMs = 0;
  /** Exits this class did not cause. */
  crashes = 0;
  private stopping = false;

  constructor(private readonly db: string) {}

  async start(setup?: string): Promise<WebNodeReady> {
    const child = spawn(process.execPath, [...NODE_HOOKS, "bench/chaos/web-node.ts"], {
      env: { ...process.env, CHAOS_DB: this.db, CHAOS_SETUP: setup ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    this.stopping = false;
    child.once("exit", () => {
      if (!this.stopping) this.crashes++;
    });
    const errors: string[] = [];
    child.stderr!.on("data", (chunk: Buffer) => {
      const text = chunk.toString();
      errors.push(text);
      for (const [, ms] of text.matchAll(/event loop stalled (\d+) ms/g)) {
        this.worstStallMs = Math.max(this.worstStallMs, Number(ms));
      }
    });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once("line", resolve);
      child.once("exit", (code, signal) =>
        reject(
          new Error(`the web node exited (${code ?? signal}): ${errors.join("").slice(-2000)}`),
        ),
      );
    });
    const ready = JSON.parse(line) as WebNodeReady;
    this.url = ready.url;
    return ready;
  }

  /** kill -9: no shutdown, no flush, sockets cut. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    this.stopping = true;
    child.kill("SIGKILL");
    await exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
    this.restarts++;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    this.stopping = true;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  }
}

interface Pending {
  clientId: string;
  body: string;
  firstTry: number;
}

/** One client's outbox: sends in order, one in flight, each retried until acked. */
async function runClient(
  node: WebNode,
  user: NonNullable<WebNodeReady["users"]>[number],
  outbox: Pending[],
  acked: Map<string, MessageView>,
  stats: { failedAttempts: number; unansweredAttempts: number; worstAckMs: number },
  deadline: number,
): Promise<void> {
  let socket: TestSocket | null = null;
  let url = "";
  while (outbox.length > 0 && Date.now() < deadline && node.crashes === 0) {
    if (!socket || !socket.connected || url !== node.url) {
      socket?.disconnect();
      url = node.url;
      socket = connect(url, {
        transports: ["websocket"],
        extraHeaders: { cookie: user.cookie },
        reconnection: false,
        forceNew: true,
      }) as TestSocket;
      const connected = await new Promise<boolean>((resolve) => {
        socket!.once("connect", () => resolve(true));
        socket!.once("connect_error", () => resolve(false));
      });
      if (!connected) {
        await sleep(100);
        continue;
      }
    }
    const next = outbox[0]!;
    const answer = await (
      socket.timeout(3000).emitWithAck as (
        n: string,
        p: unknown,
      ) => Promise<{
        ok: boolean;
        data?: MessageView;
      }>
    )("message.send", { roomId: user.roomId, clientId: next.clientId, body: next.body }).catch(
      () => null,
    );
    if (answer?.ok && answer.data) {
      acked.set(next.clientId, answer.data);
      stats.worstAckMs = Math.max(stats.worstAckMs, Date.now() - next.firstTry);
      outbox.shift();
      if (outbox[0]) outbox[0].firstTry = Date.now();
    } else {
      if (answer) stats.failedAttempts++;
      else stats.unansweredAttempts++;
      await sleep(100);
    }
  }
  socket?.disconnect();
}

export async function runSendLoad(options: LoadOptions): Promise<LoadFigures> {
  const node = new WebNode(options.db);
  const setup = await node.start(`${options.clients},${options.rooms}`);
  const users = setup.users!;
  const acked = new Map<string, MessageView>();
  const stats = { failedAttempts: 0, unansweredAttempts: 0, worstAckMs: 0 };
  const perClient = Math.ceil(options.sends / options.clients);
  const outboxes = users.map((user, u) =>
    Array.from({ length: perClient }, (_, i): Pending => ({
      clientId: crypto.randomUUID(),
      body: `load ${u}.${i}`,
      firstTry: Date.now(),
    })),
  );
  const total = perClient * users.length;
  const deadline = Date.now() + options.timeoutMs;
  let faults = 0;
  try {
    const clients = Promise.all(
      users.map((user, u) => runClient(node, user, outboxes[u]!, acked, stats, deadline)),
    );
    // The faults, at even points of the acked count.
    for (let f = 1; f <= options.faults; f++) {
      const at = Math.floor((total * f) / (options.faults + 1));
      while (acked.size < at && Date.now() < deadline) await sleep(20);
      progress(`fault ${f}/${options.faults} at ${acked.size}/${total} acked`);
      await options.fault(node);
      faults++;
    }
    await clients;
  } finally {
    await node.stop();
  }
  progress(`${acked.size}/${total} acked; checking the database`);
  return {
    sends: total,
    acked: acked.size,
    faults,
    ...(await checkDatabase(options.db, acked)),
    outboxesNotDrained: outboxes.filter((o) => o.length > 0).length,
    ...stats,
    nodeWorstStallMs: node.worstStallMs,
    crashes: node.crashes,
  };
}

/** What the database holds after the run, against what the clients were told. */
async function checkDatabase(db: string, acked: Map<string, MessageView>) {
  const database: Database = db.startsWith("pglite:")
    ? await openDatabase({ kind: "pglite", dataDir: db.slice("pglite:".length) })
    : await openDatabase({ kind: "postgres", url: db, max: 2 });
  try {
    const stored = await queryRows<{ id: string; client_id: string; body: string }>(
      database.db,
      sql`select id, client_id, body from messages`,
    );
    const byClientId = new Map(stored.map((m) => [m.client_id, m]));
    let ackedButLost = 0;
    for (const [clientId, message] of acked) {
      if (byClientId.get(clientId)?.id !== message.id) ackedButLost++;
    }
    const bodies = new Map<string, number>();
    for (const m of stored) bodies.set(m.body, (bodies.get(m.body) ?? 0) + 1);
    const duplicates = [...bodies.values()].filter((n) => n > 1).length;
    const gaps = await queryRows<{ room_id: string }>(
      database.db,
      sql`select r.id as room_id from rooms r
          where r.last_seq <> (select count(*) from room_events e where e.room_id = r.id)
             or exists (select 1 from room_events e where e.room_id = r.id and (e.seq < 1 or e.seq > r.last_seq))`,
    );
    return { ackedButLost, duplicates, roomsWithSeqGaps: gaps.length };
  } finally {
    await database.close();
  }
}
