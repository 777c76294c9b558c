/**
 * The other rooms' traffic of `npm run bench:notify`: a child process of bench/notify.ts,
 * so its sends go out on time whatever the web node's main thread is doing. (In the web
 * node's own process, a blocked event loop also held back the timer that issues the sends:
 * the sends a stall would have delayed were never made, and the stall never showed in the
 * latencies — coordinated omission.) Each send has a slot on a fixed schedule, one every
 * `everyMs` round robin over the rooms, and its latency counts from that slot, not from
 * when this process got round to it; so a late send here can only make the figures worse.
 */
import { randomUUID } from "node:crypto";
import { io, type Socket } from "socket.io-client";

export type TrafficPhase = "idle" | "baseline" | "fanout";

export type TrafficCommand =
  | { type: "start"; url: string; senders: { cookie: string; roomId: string }[]; everyMs: number }
  | { type: "phase"; phase: TrafficPhase }
  /** The samples of both phases since the last `take`, once every send of them is answered. */
  | { type: "take" }
  | { type: "stop" };

export type TrafficMessage =
  | { type: "ready" }
  | { type: "phase"; phase: TrafficPhase }
  | { type: "samples"; baseline: number[]; fanout: number[]; failed: number };

const ACK_TIMEOUT_MS = 10_000;

const send = (message: TrafficMessage) => process.send?.(message);

let sockets: Socket[] = [];
let roomIds: string[] = [];
let phase: TrafficPhase = "idle";
let samples = { baseline: [] as number[], fanout: [] as number[] };
let failed = 0;
let inFlight = 0;
let drained: (() => void) | null = null;
let timer: NodeJS.Timeout | null = null;

async function start(command: Extract<TrafficCommand, { type: "start" }>) {
  roomIds = command.senders.map((s) => s.roomId);
  sockets = await Promise.all(
    command.senders.map(
      (s) =>
        new Promise<Socket>((resolve, reject) => {
          const socket = io(command.url, {
            transports: ["websocket"],
            extraHeaders: { cookie: s.cookie },
            forceNew: true,
            reconnection: false,
          });
          socket.once("connect", () => resolve(socket));
          socket.once("connect_error", reject);
        }),
    ),
  );
  const t0 = performance.now();
  let slot = 0;
  const tick = () => {
    // Every slot that is due, each timed from its own slot.
    const now = performance.now();
    while (t0 + slot * command.everyMs <= now) {
      if (phase !== "idle") fire(slot % sockets.length, phase, t0 + slot * command.everyMs);
      slot++;
    }
    timer = setTimeout(tick, Math.max(0, t0 + slot * command.everyMs - performance.now()));
  };
  tick();
  send({ type: "ready" });
}

function fire(i: number, which: Exclude<TrafficPhase, "idle">, due: number) {
  inFlight++;
  sockets[i]!.timeout(ACK_TIMEOUT_MS)
    .emitWithAck("message.send", { roomId: roomIds[i], clientId: randomUUID(), body: "traffic" })
    .then(
      (ack: { ok: boolean }) => {
        if (ack.ok) samples[which].push(performance.now() - due);
        else failed++;
      },
      () => failed++,
    )
    .finally(() => {
      if (--inFlight === 0) drained?.();
    });
}

process.on("message", (command: TrafficCommand) => {
  switch (command.type) {
    case "start":
      start(command).catch((err: unknown) => {
        console.error(err);
        process.exit(1);
      });
      return;
    case "phase":
      phase = command.phase;
      send({ type: "phase", phase });
      return;
    case "take": {
      const reply = () => {
        drained = null;
        send({ type: "samples", ...samples, failed });
        samples = { baseline: [], fanout: [] };
        failed = 0;
      };
      if (inFlight === 0) reply();
      else drained = reply;
      return;
    }
    case "stop":
      if (timer) clearTimeout(timer);
      for (const s of sockets) s.disconnect();
      process.exit(0);
  }
});
// Ends with the benchmark, however that ends.
process.on("disconnect", () => process.exit(0));
