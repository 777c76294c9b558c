/**
 * SFU forwarding cost (issue 3, item 9): `npm run bench:sfu` prints JSON.
 *
 * Load exactly as docs/benchmarks.md: VP8-shaped RTP, 1100-byte payload, 3 packets per
 * frame, 300 packets/s, a key frame every 100 frames, over ICE + DTLS-SRTP
 * (AEAD_AES_128_GCM) on loopback. Scenarios:
 *   (a) one publisher → N subscribers, N = 5, 20, 50 (video only);
 *   (b) N-way rooms, everyone publishing that video plus Opus-shaped audio (50 packets/s)
 *       and receiving everyone else, N growing until loss or SFU CPU says stop.
 * Window: 10 s after every subscriber receives, plus 2 s warm-up; medians of 3 runs.
 *
 * SFU CPU = Δ(utime + stime) of the SFU process from /proc/<pid>/stat; µs per forwarded
 * packet = that ÷ packets the subscribers received in the window. Latency: end to end from
 * a send time the publisher bot stamps into each payload to the subscriber bot's receive
 * (includes both bots' own processing), and the SFU's own forwarding delay (decrypted →
 * sent, from its /stats histogram). The SFU is a child process (`sfu/main.ts`, as the web
 * node starts it); the bots run here, decrypting with the SFU's SRTP code so that they
 * leave the CPU to the SFU. BENCH_SFU_PROFILE_DIR=dir writes the SFU's --cpu-prof there;
 * BENCH_SFU_RUNS, BENCH_SFU_SUBSCRIBERS (e.g. "5,20"), BENCH_SFU_ROOMS (e.g. "3,5")
 * and BENCH_SFU_WINDOW_S shorten a run. BENCH_SFU_PATH=werift starts the SFU with
 * SFU_FAST_SRTP=off (sfu/config.ts): werift's own forwarding path (its sender and SRTP) on
 * the same machine, for comparison.
 */
import { loadavg } from "node:os";
import { z } from "zod";
import type { Bot } from "../sfu/bot/bot";
import { STAMP_OFFSET } from "../sfu/bot/rtp-source";
import type { SfuStats } from "../sfu/stats";
import { DELAY_BUCKET_MS } from "../sfu/stats";
import { startSfu, type TestSfu } from "../sfu/test/harness";
import { percentiles, processUsage, round } from "./sfu-measure";

const RUNS = Number(process.env.BENCH_SFU_RUNS ?? 3);
const WINDOW_S = Number(process.env.BENCH_SFU_WINDOW_S ?? 10);
const WARMUP_S = 2;
const SUBSCRIBERS = (process.env.BENCH_SFU_SUBSCRIBERS ?? "5,20,50").split(",").map(Number);
const ROOM_SIZES = (process.env.BENCH_SFU_ROOMS ?? "2,3,4,5,6,8,10").split(",").map(Number);
/** Which forwarding path the SFU runs: its own SRTP (`fast`) or werift's (`werift`, the baseline). */
const PATH = z
  .enum(["fast", "werift"])
  .default("fast")
  .parse(process.env.BENCH_SFU_PATH || undefined);
const SFU_SETTINGS = { SFU_FAST_SRTP: PATH === "fast" ? "on" : "off" };
const VIDEO = {
  fps: 100,
  packetsPerFrame: 3,
  payloadSize: 1100,
  keyFrameInterval: 100,
  stamp: true,
};

interface Sample {
  subscribers: number;
  forwardedPacketsPerSecond: number;
  sfuCpuMicrosPerPacket: number;
  sfuCpuPercent: number;
  sfuRssMB: number;
  loss: number;
  latencyMs: { p50: number; p99: number };
  sfuForwardDelayMs: { p50: number; p99: number };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** End-to-end latency histogram, filled by every subscriber bot's receive hook. */
class LatencyProbe {
  static readonly BUCKET_MS = 0.1;
  counts = new Array<number>(2000).fill(0);
  recording = false;

  attach(bot: Bot): void {
    bot.onRtp = (track, packet) => {
      if (
        !this.recording ||
        track.info?.kind !== "video" ||
        packet.payload.length < STAMP_OFFSET + 8
      )
        return;
      const sentAt = packet.payload.readDoubleLE(STAMP_OFFSET);
      const ms = performance.timeOrigin + performance.now() - sentAt;
      const bucket = Math.min(
        this.counts.length - 1,
        Math.max(0, Math.floor(ms / LatencyProbe.BUCKET_MS)),
      );
      this.counts[bucket]!++;
    };
  }
}

/**
 * Joins bots a few at a time, each batch receiving before the next joins: fifty ICE + DTLS
 * handshakes at once on a saturated 2-core machine leave some bots' handshakes stalled
 * (werift as DTLS client), and real participants arrive over time anyway.
 */
async function joinAll(
  sfu: TestSfu,
  roomId: string,
  names: string[],
  ready: (bot: Bot) => boolean,
): Promise<Bot[]> {
  const bots: Bot[] = [];
  for (let i = 0; i < names.length; i += 5) {
    const batch = await Promise.all(
      names.slice(i, i + 5).map((name) => sfu.bot(roomId, name, { fastSrtp: true })),
    );
    bots.push(...batch);
    for (const bot of batch)
      await bot.waitFor(() => ready(bot), 20_000, `media (${describe(bot)})`);
  }
  return bots;
}

/** Measures one window: everyone is connected and receiving before this is called. */
async function measure(
  sfu: TestSfu,
  receivers: Bot[],
  expected: () => number,
  probe: LatencyProbe,
): Promise<Omit<Sample, "subscribers">> {
  await sleep(WARMUP_S * 1000);
  const pid = sfu.child.pid!;
  const received = () => receivers.reduce((sum, bot) => sum + bot.totalPackets(), 0);
  const before = {
    usage: processUsage(pid),
    packets: received(),
    expected: expected(),
    stats: await sfu.stats(),
    at: performance.now(),
  };
  probe.counts.fill(0);
  probe.recording = true;
  await sleep(WINDOW_S * 1000);
  probe.recording = false;
  const after = {
    usage: processUsage(pid),
    packets: received(),
    expected: expected(),
    stats: await sfu.stats(),
    at: performance.now(),
  };
  const seconds = (after.at - before.at) / 1000;
  const packets = after.packets - before.packets;
  const cpu = after.usage.cpuMicros - before.usage.cpuMicros;
  const delays = (after.stats as SfuStats).forwardDelay.map(
    (n, i) => n - before.stats.forwardDelay[i]!,
  );
  return {
    forwardedPacketsPerSecond: Math.round(packets / seconds),
    sfuCpuMicrosPerPacket: round(cpu / packets),
    sfuCpuPercent: round((cpu / 1e6 / seconds) * 100, 1),
    sfuRssMB: round(after.usage.rss / 1024 / 1024, 1),
    loss: round(Math.max(0, 1 - packets / (after.expected - before.expected)), 4),
    latencyMs: percentiles(probe.counts, LatencyProbe.BUCKET_MS),
    sfuForwardDelayMs: percentiles(delays, DELAY_BUCKET_MS),
  };
}

/** (a) One publisher, `n` subscribers. */
async function fanOut(n: number): Promise<Sample> {
  const sfu = await startSfu(SFU_SETTINGS, profileArgs(`fanout-${n}`));
  const probe = new LatencyProbe();
  const bots: Bot[] = [];
  try {
    const roomId = `bench-fanout-${n}`;
    const publisher = await sfu.bot(roomId, "Publisher");
    bots.push(publisher);
    await publisher.publish({ camera: { shape: VIDEO } });
    const subscribers = await joinAll(
      sfu,
      roomId,
      Array.from({ length: n }, (_, i) => `Subscriber ${i + 1}`),
      (bot) => bot.totalPackets() > 0,
    );
    bots.push(...subscribers);
    for (const bot of subscribers) probe.attach(bot);
    const sample = await measure(sfu, subscribers, () => publisher.packetsSent() * n, probe);
    return { subscribers: n, ...sample };
  } finally {
    await Promise.all(bots.map((bot) => bot.close()));
    await sfu.stop();
  }
}

/** (b) An `n`-way room: everyone sends video and audio and receives everyone else. */
async function room(n: number): Promise<Sample> {
  const sfu = await startSfu(SFU_SETTINGS, profileArgs(`room-${n}`));
  const probe = new LatencyProbe();
  const bots: Bot[] = [];
  try {
    const roomId = `bench-room-${n}`;
    // Each newcomer publishes, then receives everyone before the next one joins.
    for (let i = 0; i < n; i++) {
      const bot = await sfu.bot(roomId, `Participant ${i + 1}`, { fastSrtp: true });
      bots.push(bot);
      await bot.publish({ mic: true, camera: { shape: VIDEO } });
      await bot.waitFor(
        () => bot.received.size === 2 * i && [...bot.received.values()].every((t) => t.packets > 0),
        20_000,
        `everyone (${describe(bot)})`,
      );
    }
    for (const bot of bots) {
      await bot.waitFor(
        () =>
          bot.received.size === 2 * (n - 1) &&
          [...bot.received.values()].every((t) => t.packets > 0),
        20_000,
        `everyone (${describe(bot)})`,
      );
    }
    for (const bot of bots) probe.attach(bot);
    const sample = await measure(
      sfu,
      bots,
      () => bots.reduce((sum, bot) => sum + bot.packetsSent(), 0) * (n - 1),
      probe,
    );
    return { subscribers: n * (n - 1), ...sample };
  } finally {
    await Promise.all(bots.map((bot) => bot.close()));
    await sfu.stop();
  }
}

/** What a bot that timed out knows, for the error message. */
function describe(bot: Bot): string {
  const tracks = [...bot.received.values()].map((t) => `${t.info?.kind}:${t.packets}`).join(",");
  return `tracks ${tracks || "none"}, offers answered ${bot.offersAnswered}, closed ${bot.closedReason ?? "no"}, errors ${JSON.stringify(bot.errors)}`;
}

/** A run that could not even start (a handshake lost on a saturated machine) is tried again. */
async function attempt<T>(what: string, run: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await run();
    } catch (err) {
      if (tries >= 4) throw err;
      console.error(`${what}: ${String(err)}; trying again`);
    }
  }
}

function profileArgs(name: string): string[] {
  const dir = process.env.BENCH_SFU_PROFILE_DIR;
  return dir
    ? [
        "--cpu-prof",
        `--cpu-prof-dir=${dir}`,
        `--cpu-prof-name=sfu-${name}-${Date.now()}.cpuprofile`,
      ]
    : [];
}

/** Medians of every numeric field over the runs. */
function summarize(samples: Sample[]) {
  const pick = (f: (s: Sample) => number) => round(median(samples.map(f)), 4);
  return {
    forwardedPacketsPerSecond: pick((s) => s.forwardedPacketsPerSecond),
    sfuCpuMicrosPerPacket: pick((s) => s.sfuCpuMicrosPerPacket),
    sfuCpuPercent: pick((s) => s.sfuCpuPercent),
    sfuRssMB: pick((s) => s.sfuRssMB),
    loss: pick((s) => s.loss),
    latencyMs: { p50: pick((s) => s.latencyMs.p50), p99: pick((s) => s.latencyMs.p99) },
    sfuForwardDelayMs: {
      p50: pick((s) => s.sfuForwardDelayMs.p50),
      p99: pick((s) => s.sfuForwardDelayMs.p99),
    },
    runs: samples.map((s) => s.sfuCpuMicrosPerPacket),
  };
}

async function main() {
  const started = Date.now();
  const loadBefore = loadavg();
  const fanout: Record<string, unknown> = {};
  for (const n of SUBSCRIBERS) {
    try {
      const samples: Sample[] = [];
      for (let run = 0; run < RUNS; run++)
        samples.push(await attempt(`fan-out N=${n}`, () => fanOut(n)));
      fanout[`N=${n}`] = summarize(samples);
    } catch (err) {
      fanout[`N=${n}`] = { error: String(err) };
    }
    console.error(`fan-out N=${n}:`, JSON.stringify(fanout[`N=${n}`]));
  }
  const rooms: Record<string, unknown> = {};
  for (const n of ROOM_SIZES) {
    try {
      const samples: Sample[] = [];
      for (let run = 0; run < RUNS; run++)
        samples.push(await attempt(`room N=${n}`, () => room(n)));
      const summary = summarize(samples);
      rooms[`N=${n}`] = { forwardedStreams: n * (n - 1) * 2, ...summary };
      console.error(`room N=${n}:`, JSON.stringify(rooms[`N=${n}`]));
      // The machine's limit: stop once packets are lost or the SFU needs most of a core.
      if (summary.loss > 0.01 || summary.sfuCpuPercent > 85) break;
    } catch (err) {
      // Bots that cannot even connect any more are the machine's limit too.
      rooms[`N=${n}`] = { error: String(err) };
      console.error(`room N=${n}:`, JSON.stringify(rooms[`N=${n}`]));
      break;
    }
  }
  console.info(
    JSON.stringify(
      {
        load: "VP8-shaped RTP, 1100-byte payload, 3 packets/frame, 300 packets/s, key frame every 100 frames; rooms add 50 packets/s Opus-shaped audio per participant",
        window: `${WINDOW_S} s after all connected + ${WARMUP_S} s warm-up; medians of ${RUNS} runs`,
        srtp: "AEAD_AES_128_GCM",
        forwardingPath: PATH,
        machine: {
          cpus: 2,
          loadAverageBefore: loadBefore.map((l) => round(l)),
          loadAverageAfter: loadavg().map((l) => round(l)),
        },
        fanout,
        rooms,
        seconds: Math.round((Date.now() - started) / 1000),
      },
      null,
      2,
    ),
  );
}

await main();
