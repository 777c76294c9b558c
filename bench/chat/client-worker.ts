/**
 * A client worker of `npm run bench:chat`: a child process holding a share of the bots
 * (whole rooms, so every delivery of a message it sends is counted here too), driven over
 * IPC by bench/chat.ts (protocol: worker-protocol.ts).
 */
import { randomUUID } from "node:crypto";
import { io, type Socket } from "socket.io-client";
import { Samples } from "../stats";
import type {
  BotSpec,
  ConnectCommand,
  ParentMessage,
  RunCommand,
  StepResult,
  VerifyResult,
  WorkerMessage,
} from "./worker-protocol";

interface Bot {
  socket: Socket;
  roomId: string;
  /** Every seq up to this one has been handled; `seen` holds those above it. */
  watermark: number;
  seen: Set<number>;
  /** Connected and subscribed (and caught up, for Parley). */
  ready: boolean;
  /**
   * Sends not acked yet, by clientId: resent after a reconnect, as the app's outbox does
   * (an ack lost with its connection never comes; the server dedupes by clientId).
   */
  outbox: Map<string, { payload: object; onAck: (result: Ack) => void }>;
}

type Ack<T = unknown> = { ok: true; data: T } | { ok: false; error: { code: string } };

interface MessageEvent {
  type?: string;
  seq?: number;
  message?: { body?: unknown };
}

const TICK_MS = 5;

let bots: Bot[] = [];
/** Subscribed bots per room: the deliveries each message in that room should make. */
const subscribers = new Map<string, number>();
let catchUp = false;
const disconnects = new Map<string, number>();
let reconnects = 0;
let catchUpEvents = 0;
let current: StepState | undefined;
/** Every step so far: a late or caught-up delivery still counts for the step that sent it. */
const steps = new Map<number, StepState>();

/** One load step's counters; late events of an earlier step are ignored. */
interface StepState {
  command: RunCommand;
  /** Deliveries per message index, and how many each should get. */
  received: Uint16Array;
  expected: Uint16Array;
  sent: number;
  sentInWindow: number;
  acksOk: number;
  acksOkInWindow: number;
  acksFailed: number;
  ackErrors: Record<string, number>;
  receivedDeliveries: number;
  deliveriesInWindow: number;
  duplicateDeliveries: number;
  fanout: Samples;
  ack: Samples;
  maxTickLagMs: number;
}

const now = () => performance.timeOrigin + performance.now();

function send(message: WorkerMessage): void {
  process.send?.(message);
}

process.on("message", (raw: ParentMessage) => {
  const done = (p: Promise<void>) =>
    p.catch((err: unknown) => send({ type: "error", message: String(err) }));
  if (raw.type === "connect") void done(connectAll(raw));
  else if (raw.type === "run") void done(runStep(raw));
  else if (raw.type === "verify") void done(verify().then(send));
  else if (raw.type === "status") {
    send({ type: "status", connected: bots.filter((b) => b.ready).length, total: bots.length });
  } else if (raw.type === "close") close();
});
// The parent went away (crashed or was killed): do not linger with 2,000 sockets.
process.on("disconnect", () => close());

function close(): void {
  for (const bot of bots) bot.socket.disconnect();
  process.exit(0);
}

async function connectAll(command: ConnectCommand): Promise<void> {
  const startedAt = performance.now();
  catchUp = command.catchUp;
  const errors = new Map<string, number>();
  let failed = 0;
  const queue = [...command.bots];
  const connected: Bot[] = [];
  const next = async (): Promise<void> => {
    for (let spec = queue.shift(); spec; spec = queue.shift()) {
      try {
        connected.push(await connectBot(command, spec));
      } catch (err) {
        failed += 1;
        const key = err instanceof Error ? err.message : String(err);
        errors.set(key, (errors.get(key) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: command.concurrency }, next));
  // Interleave rooms, so consecutive sends go to different rooms as real traffic would.
  const byRoom = new Map<string, Bot[]>();
  for (const bot of connected) {
    const list = byRoom.get(bot.roomId) ?? [];
    list.push(bot);
    byRoom.set(bot.roomId, list);
    subscribers.set(bot.roomId, (subscribers.get(bot.roomId) ?? 0) + 1);
  }
  const rooms = [...byRoom.values()];
  const longest = Math.max(0, ...rooms.map((r) => r.length));
  bots = [];
  for (let i = 0; i < longest; i++) for (const room of rooms) if (room[i]) bots.push(room[i]!);
  send({
    type: "connected",
    connected: bots.length,
    subscribed: bots.length,
    failed,
    errors: [...errors].map(([message, count]) => `${count}× ${message}`),
    seconds: (performance.now() - startedAt) / 1000,
  });
}

function connectBot(command: ConnectCommand, spec: BotSpec): Promise<Bot> {
  return new Promise((resolve, reject) => {
    const socket = io(command.url, {
      path: "/socket.io/",
      transports: ["websocket"],
      // Each bot is its own browser: its own connection, not a namespace on a shared one.
      forceNew: true,
      // Like the app's client: a dropped connection comes back, resubscribes and catches up.
      reconnection: true,
      reconnectionDelay: 1000,
      reconnectionDelayMax: 5000,
      timeout: command.timeoutMs,
      extraHeaders: spec.cookie ? { cookie: spec.cookie } : {},
    });
    const bot: Bot = {
      socket,
      roomId: spec.roomId,
      watermark: 0,
      seen: new Set(),
      ready: false,
      outbox: new Map(),
    };
    const timer = setTimeout(
      () => fail(new Error("connect/subscribe timed out")),
      command.timeoutMs,
    );
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket.disconnect();
      reject(err);
    };
    const onConnectError = (err: Error) => fail(new Error(`connect_error: ${err.message}`));
    socket.once("connect_error", onConnectError);
    socket.once("connect", () => {
      // From here on a failed reconnect attempt is the manager's to retry, not the end.
      socket.off("connect_error", onConnectError);
      socket.emit("room.subscribe", { roomId: spec.roomId }, (result: Ack<{ lastSeq: number }>) => {
        if (!result.ok) return fail(new Error(`room.subscribe: ${result.error.code}`));
        clearTimeout(timer);
        bot.watermark = result.data.lastSeq;
        bot.ready = true;
        socket.on("room.event", (event: MessageEvent) => onRoomEvent(bot, event, true));
        socket.on("disconnect", (reason: string) => {
          bot.ready = false;
          disconnects.set(reason, (disconnects.get(reason) ?? 0) + 1);
        });
        socket.on("connect", () => void resubscribe(bot));
        resolve(bot);
      });
    });
  });
}

function call<T>(socket: Socket, name: string, payload: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    socket.timeout(30_000).emit(name, payload, (err: Error | null, result: Ack<T>) => {
      if (err) reject(err);
      else if (!result.ok) reject(new Error(`${name}: ${result.error.code}`));
      else resolve(result.data);
    });
  });
}

/** After a reconnect: subscribe again, then fetch what was missed, as the app's client does. */
async function resubscribe(bot: Bot): Promise<void> {
  reconnects += 1;
  try {
    await call(bot.socket, "room.subscribe", { roomId: bot.roomId });
    if (!catchUp) {
      bot.ready = bot.socket.connected;
      return;
    }
    await catchUpBot(bot);
    for (const { payload, onAck } of bot.outbox.values()) {
      bot.socket.emit("message.send", payload, onAck);
    }
    bot.ready = bot.socket.connected;
  } catch {
    // The connection dropped again; the next "connect" starts over.
  }
}

/** Fetches every event after the bot's watermark with `room.sync`, page by page. */
async function catchUpBot(bot: Bot): Promise<void> {
  for (let more = true; more;) {
    const page = await call<{ events: MessageEvent[]; throughSeq: number; hasMore: boolean }>(
      bot.socket,
      "room.sync",
      { roomId: bot.roomId, afterSeq: bot.watermark },
    );
    for (const event of page.events) {
      catchUpEvents += 1;
      onRoomEvent(bot, event, false);
    }
    more = page.hasMore && page.throughSeq > bot.watermark;
  }
}

/**
 * The end of the run: every connected bot catches up (as after a reconnect or a detected
 * gap), then each step's messages that some subscriber still lacks are counted. What is
 * missing now was lost, not merely late.
 */
async function verify(): Promise<VerifyResult> {
  let unverified = 0;
  if (catchUp) {
    const queue = [...bots];
    const next = async () => {
      for (let bot = queue.shift(); bot; bot = queue.shift()) {
        if (!bot.socket.connected) {
          unverified += 1;
          continue;
        }
        await catchUpBot(bot).catch(() => {
          unverified += 1;
        });
      }
    };
    await Promise.all(Array.from({ length: 20 }, next));
  }
  const missingByStep: Record<number, number> = {};
  for (const [step, state] of steps) missingByStep[step] = missing(state).messages;
  return { type: "verified", missingByStep, unverifiedBots: unverified };
}

/**
 * A message's body is `<step> <index> <sent at> <padding>`. The server is ours and trusted,
 * and this runs for every delivery, so it is checked by shape rather than with zod. Events
 * are deduplicated by seq, as the app's client does: a catch-up page and a live event can
 * carry the same one.
 */
function onRoomEvent(bot: Bot, event: MessageEvent, live: boolean): void {
  const receivedAt = now();
  const seq = event?.seq;
  if (typeof seq !== "number") return;
  if (seq <= bot.watermark || bot.seen.has(seq)) {
    if (live && current) current.duplicateDeliveries += 1;
    return;
  }
  bot.seen.add(seq);
  while (bot.seen.delete(bot.watermark + 1)) bot.watermark += 1;

  const body = event.message?.body;
  if (event.type !== "message.created" || typeof body !== "string") return;
  const [step, index, sentAt] = body.split(" ", 3).map(Number) as [number, number, number];
  const state = steps.get(step);
  if (!state || !(index < state.sent)) return;
  const count = ++state.received[index]!;
  if (count > state.expected[index]!) {
    state.duplicateDeliveries += 1;
    return;
  }
  state.receivedDeliveries += 1;
  if (receivedAt >= state.command.warmupEnd && receivedAt < state.command.windowEnd) {
    state.deliveriesInWindow += 1;
  }
  if (sentAt >= state.command.warmupEnd && sentAt < state.command.windowEnd) {
    state.fanout.push(receivedAt - sentAt);
  }
}

async function runStep(command: RunCommand): Promise<void> {
  const capacity = Math.ceil((command.rate * (command.windowEnd - command.startAt)) / 1000) + 16;
  const state: StepState = {
    command,
    received: new Uint16Array(capacity),
    expected: new Uint16Array(capacity),
    sent: 0,
    sentInWindow: 0,
    acksOk: 0,
    acksOkInWindow: 0,
    acksFailed: 0,
    ackErrors: {},
    receivedDeliveries: 0,
    deliveriesInWindow: 0,
    duplicateDeliveries: 0,
    fanout: new Samples(),
    ack: new Samples(),
    maxTickLagMs: 0,
  };
  current = state;
  steps.set(command.step, state);
  const padding = "x".repeat(command.bodyChars);
  let nextBot = 0;
  let lastTick = now();

  // Sends are due at a steady rate from startAt; a late tick catches up, so the offered
  // load is the target unless this process cannot keep up (then sent/s shows it).
  const tick = () => {
    const t = now();
    state.maxTickLagMs = Math.max(state.maxTickLagMs, t - lastTick - TICK_MS);
    lastTick = t;
    if (t < command.startAt || bots.length === 0) return;
    const due = Math.min(
      capacity - 16,
      Math.floor((command.rate * (Math.min(t, command.windowEnd) - command.startAt)) / 1000),
    );
    while (state.sent < due) {
      const bot = bots[nextBot]!;
      nextBot = (nextBot + 1) % bots.length;
      const index = state.sent++;
      state.expected[index] = subscribers.get(bot.roomId) ?? 0;
      const sentAt = now();
      const inWindow = sentAt >= command.warmupEnd && sentAt < command.windowEnd;
      if (inWindow) state.sentInWindow += 1;
      const body = `${command.step} ${index} ${sentAt.toFixed(3)} ${padding}`.slice(
        0,
        Math.max(40, command.bodyChars),
      );
      const payload = { roomId: bot.roomId, clientId: randomUUID(), body };
      let settled = false;
      const onAck = (result: Ack) => {
        if (settled) return;
        settled = true;
        bot.outbox.delete(payload.clientId);
        const ackedAt = now();
        if (result.ok) {
          state.acksOk += 1;
          if (ackedAt >= command.warmupEnd && ackedAt < command.windowEnd)
            state.acksOkInWindow += 1;
        } else {
          state.acksFailed += 1;
          state.ackErrors[result.error.code] = (state.ackErrors[result.error.code] ?? 0) + 1;
          // A refused message makes no deliveries; count it as failed, not also as lost.
          state.expected[index] = 0;
        }
        if (inWindow) state.ack.push(ackedAt - sentAt);
      };
      bot.outbox.set(payload.clientId, { payload, onAck });
      bot.socket.emit("message.send", payload, onAck);
    }
  };
  const timer = setInterval(tick, TICK_MS);
  await sleepUntil(command.windowEnd);
  tick();
  clearInterval(timer);
  await sleepUntil(command.drainEnd);
  const atDrain = missing(state);
  // A server that fell behind may still deliver; wait (bounded) to tell late from lost.
  let atEnd = atDrain;
  while ((atEnd.acks > 0 || atEnd.messages > 0) && now() < command.graceEnd) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    atEnd = missing(state);
  }
  const result: StepResult = {
    type: "result",
    step: command.step,
    sent: state.sent,
    sentInWindow: state.sentInWindow,
    acksOk: state.acksOk,
    acksOkInWindow: state.acksOkInWindow,
    acksFailed: state.acksFailed,
    acksMissingAtDrain: atDrain.acks,
    acksMissing: atEnd.acks,
    ackErrors: state.ackErrors,
    expectedDeliveries: atEnd.expectedDeliveries,
    receivedDeliveries: state.receivedDeliveries,
    deliveriesInWindow: state.deliveriesInWindow,
    duplicateDeliveries: state.duplicateDeliveries,
    messagesUndeliveredAtDrain: atDrain.messages,
    messagesLost: atEnd.messages,
    fanoutMs: state.fanout.toArray(),
    ackMs: state.ack.toArray(),
    disconnects: Object.fromEntries(disconnects),
    reconnects,
    catchUpEvents,
    maxTickLagMs: state.maxTickLagMs,
  };
  send(result);
}

/** Acks not yet received, and messages some subscriber has not yet received. */
function missing(state: StepState) {
  let expectedDeliveries = 0;
  let messages = 0;
  for (let i = 0; i < state.sent; i++) {
    expectedDeliveries += state.expected[i]!;
    if (state.received[i]! < state.expected[i]!) messages += 1;
  }
  return { acks: state.sent - state.acksOk - state.acksFailed, messages, expectedDeliveries };
}

function sleepUntil(absoluteMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, absoluteMs - now())));
}
