/**
 * SFU capacity (issue 15): `npm run bench:capacity` prints JSON. Run it alone on the
 * machine (`flock /tmp/heavy.lock npm run bench:capacity`).
 *
 * Rooms of 8 (BENCH_CAPACITY_ROOM_SIZE) where everyone publishes a camera in three
 * simulcast layers plus Opus-shaped audio, and receives everyone else at the layer a
 * 320×180 tile needs (`setTileSize`; the SFU picks `low`). Rooms are added one at a time
 * until loss or delay says stop; the SFU runs with one media worker, then with all
 * (SFU_WORKERS unset: one per core). Per step, over a window after everyone receives: the
 * subscribers' sequence gaps (loss), the SFU's forwarding delay p99 (decrypted → sent, its
 * /stats histogram), the SFU process's CPU (all threads) and the bots' CPU beside it.
 *
 * Stop: any sequence gap, a forwarding-delay p99 over BENCH_CAPACITY_DELAY_MS (20), or a
 * room whose bots cannot all connect and receive within 30 s. "Rooms carried" is the last
 * step with no gap and the delay under the bound; "rooms per SFU core" is that step's rooms
 * divided by the SFU's CPU there (in cores), the figure the target compares (all workers
 * ≥ 0.9 × one worker).
 *
 * Each room's bots run in a child process of their own (this script with `--drive`), so
 * the bots are not limited to one thread while the SFU has several; they decrypt with the
 * SFU's SRTP code (`fastSrtp`), as in bench:sfu. Video per layer: 30 fps, 2 packets per
 * frame (60 packets/s; payload 1100 bytes at the top layer, ½ and ¼ below), audio 50
 * packets/s: per room 1,840 packets/s in and 6,160 out.
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { availableParallelism, loadavg } from "node:os";
import { Bot } from "../sfu/bot/bot";
import { DELAY_BUCKET_MS } from "../sfu/stats";
import { LOOPBACK, startSfu, type TestSfu } from "../sfu/test/harness";
import { mintCallToken } from "../sfu/token";
import { percentiles, processUsage } from "./sfu-measure";
import { round } from "./stats";

const ROOM_SIZE = Number(process.env.BENCH_CAPACITY_ROOM_SIZE ?? 8);
const MAX_ROOMS = Number(process.env.BENCH_CAPACITY_MAX_ROOMS ?? 30);
const WINDOW_S = Number(process.env.BENCH_CAPACITY_WINDOW_S ?? 10);
const SETTLE_S = 3;
const DELAY_LIMIT_MS = Number(process.env.BENCH_CAPACITY_DELAY_MS ?? 20);
const READY_TIMEOUT_MS = 30_000;
const VIDEO = { fps: 30, packetsPerFrame: 2, payloadSize: 1100, keyFrameInterval: 90 };
const TILE = { width: 320, height: 180 };

/** What a room's driver reports: cumulative counts since it started. */
interface DriverSample {
  packets: number;
  gaps: number;
  cpuMicros: number;
}

type DriverMessage =
  { type: "ready" } | { type: "failed"; error: string } | ({ type: "sample" } & DriverSample);

// ---------------------------------------------------------------- the driver (child)

/** `--drive`: joins one room's bots, reports when all receive, then samples on request. */
async function drive(): Promise<void> {
  const url = process.env.CAPACITY_URL!;
  const secret = process.env.CAPACITY_SECRET!;
  const roomId = process.env.CAPACITY_ROOM!;
  const bots: Bot[] = [];
  const send = (message: DriverMessage) => process.send!(message);
  process.on("message", (message: { type: string }) => {
    if (message.type === "sample") {
      const tracks = bots.flatMap((bot) => [...bot.received.values()]);
      const cpu = process.cpuUsage();
      send({
        type: "sample",
        packets: tracks.reduce((n, t) => n + t.packets, 0),
        gaps: tracks.reduce((n, t) => n + t.gaps, 0),
        cpuMicros: cpu.user + cpu.system,
      });
    } else if (message.type === "stop") {
      void Promise.all(bots.map((bot) => bot.close())).finally(() => process.exit(0));
    }
  });
  process.on("disconnect", () => process.exit(0));
  try {
    for (let i = 0; i < ROOM_SIZE; i++) {
      const token = await mintCallToken(secret, {
        userId: `user-${randomBytes(4).toString("hex")}`,
        displayName: `P${i + 1}`,
        mayPublish: true,
        roomId,
      });
      const bot = await Bot.join({ url, token, roomId, network: LOOPBACK, fastSrtp: true });
      bots.push(bot);
      await bot.publish({ mic: true, camera: { simulcast: true, shape: VIDEO } });
    }
    const deadline = Date.now() + READY_TIMEOUT_MS;
    const tiled = new Set<string>();
    for (const bot of bots) {
      await bot.waitFor(
        () => bot.received.size === 2 * (ROOM_SIZE - 1),
        Math.max(1, deadline - Date.now()),
        "every track",
      );
      for (const [trackId, track] of bot.received) {
        if (track.info?.kind !== "video" || tiled.has(`${bot.peerId}:${trackId}`)) continue;
        tiled.add(`${bot.peerId}:${trackId}`);
        await bot.setTileSize(trackId, TILE.width, TILE.height);
      }
    }
    for (const bot of bots)
      await bot.waitFor(
        () => [...bot.received.values()].every((t) => t.packets > 0),
        Math.max(1, deadline - Date.now()),
        "media on every track",
      );
    send({ type: "ready" });
  } catch (err) {
    send({ type: "failed", error: String(err) });
  }
}

// ---------------------------------------------------------------- the bench (parent)

class Driver {
  private readonly child: ChildProcess;
  private waiting: ((message: DriverMessage) => void) | undefined;

  constructor(sfu: TestSfu, roomId: string) {
    this.child = fork(new URL(import.meta.url).pathname, ["--drive"], {
      execArgv: process.execArgv,
      env: {
        ...process.env,
        CAPACITY_URL: sfu.url,
        CAPACITY_SECRET: sfu.secret,
        CAPACITY_ROOM: roomId,
      },
    });
    this.child.on("message", (message: DriverMessage) => this.waiting?.(message));
  }

  get pid(): number {
    return this.child.pid!;
  }

  next(timeoutMs: number): Promise<DriverMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("the room's bots did not answer")),
        timeoutMs,
      );
      this.waiting = (message) => {
        clearTimeout(timer);
        this.waiting = undefined;
        resolve(message);
      };
    });
  }

  async sample(): Promise<DriverSample> {
    const answer = this.next(10_000);
    this.child.send({ type: "sample" });
    const message = await answer;
    if (message.type !== "sample") throw new Error(`unexpected ${message.type}`);
    return message;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.send({ type: "stop" });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
}

interface Step {
  rooms: number;
  gaps: number;
  receivedPacketsPerSecond: number;
  sfuForwardDelayMs: { p50: number; p99: number };
  /** CPU in cores (1 = one core busy the whole window). */
  sfuCores: number;
  botCores: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One SFU, rooms added until loss or delay says stop. */
async function scenario(workers: number) {
  const sfu = await startSfu({ SFU_WORKERS: String(workers), LOG_LEVEL: "error" });
  const drivers: Driver[] = [];
  const steps: Step[] = [];
  let stoppedBy = `${MAX_ROOMS} rooms (BENCH_CAPACITY_MAX_ROOMS)`;
  try {
    for (let rooms = 1; rooms <= MAX_ROOMS; rooms++) {
      const driver = new Driver(sfu, `capacity-${rooms}`);
      drivers.push(driver);
      const ready = await driver.next(READY_TIMEOUT_MS + 15_000).catch((err: unknown) => ({
        type: "failed" as const,
        error: String(err),
      }));
      if (ready.type !== "ready") {
        stoppedBy = `room ${rooms} could not connect: ${ready.type === "failed" ? ready.error : ready.type}`;
        break;
      }
      await sleep(SETTLE_S * 1000);
      const read = async () => ({
        at: performance.now(),
        sfu: processUsage(sfu.child.pid!).cpuMicros,
        stats: await sfu.stats(),
        bots: await Promise.all(drivers.map((d) => d.sample())),
      });
      const before = await read();
      await sleep(WINDOW_S * 1000);
      const after = await read();
      const seconds = (after.at - before.at) / 1000;
      const sum = (samples: DriverSample[], f: (s: DriverSample) => number) =>
        samples.reduce((n, s) => n + f(s), 0);
      const step: Step = {
        rooms,
        gaps: sum(after.bots, (s) => s.gaps) - sum(before.bots, (s) => s.gaps),
        receivedPacketsPerSecond: Math.round(
          (sum(after.bots, (s) => s.packets) - sum(before.bots, (s) => s.packets)) / seconds,
        ),
        sfuForwardDelayMs: percentiles(
          after.stats.forwardDelay.map((n, i) => n - before.stats.forwardDelay[i]!),
          DELAY_BUCKET_MS,
        ),
        sfuCores: round((after.sfu - before.sfu) / 1e6 / seconds, 3),
        botCores: round(
          (sum(after.bots, (s) => s.cpuMicros) - sum(before.bots, (s) => s.cpuMicros)) /
            1e6 /
            seconds,
          3,
        ),
      };
      steps.push(step);
      console.error(`workers=${workers}:`, JSON.stringify(step));
      if (step.gaps > 0) {
        stoppedBy = `loss at ${rooms} rooms (${step.gaps} sequence gaps)`;
        break;
      }
      if (step.sfuForwardDelayMs.p99 > DELAY_LIMIT_MS) {
        stoppedBy = `forwarding delay p99 ${step.sfuForwardDelayMs.p99} ms at ${rooms} rooms`;
        break;
      }
    }
  } finally {
    await Promise.all(drivers.map((d) => d.stop()));
    await sfu.stop();
  }
  const carried = [...steps]
    .reverse()
    .find((s) => s.gaps === 0 && s.sfuForwardDelayMs.p99 <= DELAY_LIMIT_MS);
  return {
    workers,
    roomsCarried: carried?.rooms ?? 0,
    atCapacity: carried ?? null,
    roomsPerSfuCore: carried ? round(carried.rooms / carried.sfuCores, 2) : 0,
    stoppedBy,
    steps,
  };
}

async function main() {
  const started = Date.now();
  const loadBefore = loadavg();
  const all = availableParallelism();
  const one = await scenario(1);
  const many = await scenario(all);
  console.info(
    JSON.stringify(
      {
        load: `rooms of ${ROOM_SIZE}: everyone publishes a camera in 3 simulcast layers (${VIDEO.fps} fps, ${VIDEO.packetsPerFrame} packets/frame each) plus Opus-shaped audio (50 packets/s), and receives everyone else at a ${TILE.width}×${TILE.height} tile's layer`,
        window: `${WINDOW_S} s per step, after everyone receives + ${SETTLE_S} s`,
        stop: `any sequence gap, forwarding delay p99 > ${DELAY_LIMIT_MS} ms, or a room that cannot connect`,
        machine: {
          cpus: all,
          loadAverageBefore: loadBefore.map((l) => round(l)),
          loadAverageAfter: loadavg().map((l) => round(l)),
        },
        oneWorker: one,
        allWorkers: many,
        roomsPerSfuCoreRatio:
          one.roomsPerSfuCore > 0 ? round(many.roomsPerSfuCore / one.roomsPerSfuCore, 3) : null,
        target: "allWorkers.roomsPerSfuCore ≥ 0.9 × oneWorker.roomsPerSfuCore",
        seconds: Math.round((Date.now() - started) / 1000),
      },
      null,
      2,
    ),
  );
}

if (process.argv.includes("--drive")) await drive();
else await main();
