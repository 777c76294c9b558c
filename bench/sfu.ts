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
 * leave the CPU to the SFU. BENCH_SFU_PROFILE_DIR=dir writes the SFU's --cpu-prof there (a directory per run, a profile per thread);
 * BENCH_SFU_RUNS, BENCH_SFU_SUBSCRIBERS (e.g. "5,20"), BENCH_SFU_ROOMS (e.g. "3,5")
 * and BENCH_SFU_WINDOW_S shorten a run. BENCH_SFU_PATH=werift starts the SFU with
 * SFU_FAST_SRTP=off (sfu/config.ts): werift's own forwarding path (its sender and SRTP) on
 * the same machine, for comparison.
 *
 * Bots (`--bots`, default `browser`): negotiate and send what Chromium does — `mid`,
 * `ssrc-audio-level`, the transport-wide sequence number and abs-send-time, answered with
 * transport-wide feedback, and REMB where the SFU asks for it (sfu/bot/browser-like.ts) —
 * since that is what a call costs; `plain` is the bots as they were before (the SFU's own
 * configuration, no REMB).
 *
 * Idle cost: after the window of the largest fan-out, the publisher stops sending (every
 * connection stays up) and the SFU's CPU is measured over another window.
 *
 * `--compare janus`: the same fan-out, bots and load against Janus's VideoRoom
 * (bench/sfu/janus.ts; Debian's `janus`, installed beforehand: nothing is installed here),
 * both SFUs back to back in each repetition (alternating which goes first) inside a private
 * network namespace (bench/sfu/netns.ts; needs root or user namespaces). Prints Parley's
 * CPU per forwarded packet as a ratio of Janus's per repetition and their medians, the
 * marginal cost per extra forwarded packet, and the idle cost of both. Janus's CPU is its
 * process's, from /proc/<pid>/stat like Parley's.
 */
import { availableParallelism, loadavg } from "node:os";
import { parseArgs } from "node:util";
import type { RtpPacket } from "werift";
import { z } from "zod";
import type { Bot } from "../sfu/bot/bot";
import type { ReceivedTrack } from "../sfu/bot/received-track";
import { DEFAULT_VIDEO, STAMP_OFFSET } from "../sfu/bot/rtp-source";
import type { MediaNetwork } from "../sfu/media";
import { DELAY_BUCKET_MS } from "../sfu/stats";
import { LOOPBACK, startSfu, type TestSfu } from "../sfu/test/harness";
import { percentiles, processUsage } from "./sfu-measure";
import { median, round } from "./stats";
import { janusBinary, JanusPublisher, JanusSubscriber, startJanus } from "./sfu/janus";
import {
  inPrivateNetwork,
  PRIVATE_INTERFACE,
  PRIVATE_MEDIA_IP,
  rerunInPrivateNetwork,
  setUpPrivateNetwork,
} from "./sfu/netns";

const args = z
  .object({
    compare: z.enum(["janus"]).optional(),
    bots: z.enum(["browser", "plain"]).default("browser"),
  })
  .parse(
    parseArgs({
      options: { compare: { type: "string" }, bots: { type: "string" } },
      strict: true,
    }).values,
  );

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
/** Where media flows: loopback, or the private namespace's veth address when comparing. */
const NETWORK: MediaNetwork = args.compare
  ? { mediaIp: PRIVATE_MEDIA_IP, iceTcp: false }
  : LOOPBACK;
const SFU_SETTINGS = {
  SFU_FAST_SRTP: PATH === "fast" ? "on" : "off",
  SFU_MEDIA_IP: NETWORK.mediaIp!,
};
const VIDEO = {
  fps: 100,
  packetsPerFrame: 3,
  payloadSize: 1100,
  keyFrameInterval: 100,
  stamp: true,
};
/** Seconds of the idle window (media stopped, everyone connected), after the largest fan-out. */
const IDLE_WINDOW_S = Number(process.env.BENCH_SFU_IDLE_WINDOW_S ?? WINDOW_S);
const IDLE_SETTLE_S = 3;
const JANUS_HTTP_PORT = 8188;

interface Sample {
  subscribers: number;
  /** SFU CPU in % of a core with everyone connected and no media (largest fan-out only). */
  idleCpuPercent?: number;
  forwardedPacketsPerSecond: number;
  sfuCpuMicrosPerPacket: number;
  sfuCpuPercent: number;
  sfuRssMB: number;
  loss: number;
  latencyMs: { p50: number; p99: number };
  /** Decrypted → sent inside the SFU (Parley's /stats; Janus has no such histogram). */
  sfuForwardDelayMs?: { p50: number; p99: number };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** End-to-end latency histogram, filled by every subscriber bot's receive hook. */
class LatencyProbe {
  static readonly BUCKET_MS = 0.1;
  counts = new Array<number>(2000).fill(0);
  recording = false;

  attach(bot: { onRtp: ((track: ReceivedTrack, packet: RtpPacket) => void) | undefined }): void {
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
      names.slice(i, i + 5).map((name) => sfu.bot(roomId, name, BOT_OPTIONS)),
    );
    bots.push(...batch);
    for (const bot of batch)
      await bot.waitFor(() => ready(bot), 20_000, `media (${describe(bot)})`);
  }
  return bots;
}

const BOT_OPTIONS = { fastSrtp: true, feedback: args.bots, network: NETWORK } as const;

/** The SFU under test: its process, and its forwarding-delay histogram where it has one. */
interface Target {
  pid: number;
  forwardDelay?: () => Promise<number[]>;
}

function parleyTarget(sfu: TestSfu): Target {
  return { pid: sfu.child.pid!, forwardDelay: async () => (await sfu.stats()).forwardDelay };
}

/** Measures one window: everyone is connected and receiving before this is called. */
async function measure(
  target: Target,
  receivers: Array<{ totalPackets(): number }>,
  expected: () => number,
  probe: LatencyProbe,
): Promise<Omit<Sample, "subscribers">> {
  await sleep(WARMUP_S * 1000);
  const pid = target.pid;
  const received = () => receivers.reduce((sum, bot) => sum + bot.totalPackets(), 0);
  const before = {
    usage: processUsage(pid),
    packets: received(),
    expected: expected(),
    delays: (await target.forwardDelay?.()) ?? [],
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
    delays: (await target.forwardDelay?.()) ?? [],
    at: performance.now(),
  };
  const seconds = (after.at - before.at) / 1000;
  const packets = after.packets - before.packets;
  const cpu = after.usage.cpuMicros - before.usage.cpuMicros;
  const delays = after.delays.map((n, i) => n - before.delays[i]!);
  return {
    forwardedPacketsPerSecond: Math.round(packets / seconds),
    sfuCpuMicrosPerPacket: round(cpu / packets),
    sfuCpuPercent: round((cpu / 1e6 / seconds) * 100, 1),
    sfuRssMB: round(after.usage.rss / 1024 / 1024, 1),
    loss: round(Math.max(0, 1 - packets / (after.expected - before.expected)), 4),
    latencyMs: percentiles(probe.counts, LatencyProbe.BUCKET_MS),
    ...(target.forwardDelay ? { sfuForwardDelayMs: percentiles(delays, DELAY_BUCKET_MS) } : {}),
  };
}

/**
 * The SFU's CPU (% of a core) with everyone still connected after the media stopped
 * (`pause`): what connected subscribers cost between calls' bursts of media.
 */
async function idleCost(pid: number, pause: () => void): Promise<number> {
  pause();
  await sleep(IDLE_SETTLE_S * 1000);
  const before = processUsage(pid).cpuMicros;
  const at = performance.now();
  await sleep(IDLE_WINDOW_S * 1000);
  const seconds = (performance.now() - at) / 1000;
  return round(((processUsage(pid).cpuMicros - before) / 1e6 / seconds) * 100, 2);
}

/** (a) One publisher, `n` subscribers on Parley's SFU; `idle` measures the idle cost after. */
async function fanOut(n: number, idle: boolean): Promise<Sample> {
  const sfu = await startSfu(SFU_SETTINGS, profileArgs(`fanout-${n}`));
  const probe = new LatencyProbe();
  const bots: Bot[] = [];
  try {
    const roomId = `bench-fanout-${n}`;
    const publisher = await sfu.bot(roomId, "Publisher", { feedback: args.bots, network: NETWORK });
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
    const target = parleyTarget(sfu);
    const sample = await measure(target, subscribers, () => publisher.packetsSent() * n, probe);
    const idleCpuPercent = idle
      ? await idleCost(target.pid, () => publisher.pauseMedia())
      : undefined;
    return { subscribers: n, ...sample, ...(idle ? { idleCpuPercent } : {}) };
  } finally {
    await Promise.all(bots.map((bot) => bot.close()));
    await sfu.stop();
  }
}

/** (a) against Janus's VideoRoom: the same publisher, subscribers, load and window. */
async function fanOutJanus(n: number, idle: boolean): Promise<Sample> {
  const janus = await startJanus({
    mediaInterface: PRIVATE_INTERFACE,
    httpPort: JANUS_HTTP_PORT,
    rtpPorts: [50000, 59999],
  });
  const probe = new LatencyProbe();
  const peers: Array<{ close(): Promise<void> }> = [];
  try {
    const shape = { ...DEFAULT_VIDEO, ...VIDEO, layers: 1 };
    const publisher = await JanusPublisher.start(janus.api, NETWORK, shape, args.bots);
    peers.push(publisher);
    const subscribers: JanusSubscriber[] = [];
    // Five at a time, each batch receiving before the next joins (as joinAll does).
    for (let i = 0; i < n; i += 5) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(5, n - i) }, () =>
          JanusSubscriber.start(janus.api, NETWORK, publisher.feedId, args.bots),
        ),
      );
      peers.push(...batch);
      subscribers.push(...batch);
      const deadline = Date.now() + 20_000;
      while (!batch.every((s) => s.totalPackets() > 0)) {
        if (Date.now() > deadline) throw new Error("janus subscribers receive nothing");
        await sleep(50);
      }
    }
    for (const subscriber of subscribers) probe.attach(subscriber);
    const target: Target = { pid: janus.pid };
    const sample = await measure(target, subscribers, () => publisher.packetsSent() * n, probe);
    const idleCpuPercent = idle ? await idleCost(janus.pid, () => publisher.pause()) : undefined;
    return { subscribers: n, ...sample, ...(idle ? { idleCpuPercent } : {}) };
  } finally {
    await Promise.all(peers.map((peer) => peer.close()));
    await janus.stop();
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
      const bot = await sfu.bot(roomId, `Participant ${i + 1}`, BOT_OPTIONS);
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
      parleyTarget(sfu),
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
  // One directory per SFU run and Node's own file names: every thread (the main one and
  // each media worker) writes its own profile, so a fixed name would keep only the last.
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}/sfu-${name}-${Date.now()}`] : [];
}

/** Medians of every numeric field over the runs. */
function summarize(samples: Sample[]) {
  const pick = (f: (s: Sample) => number) => round(median(samples.map(f)), 4);
  const idle = samples.filter((s) => s.idleCpuPercent !== undefined);
  return {
    forwardedPacketsPerSecond: pick((s) => s.forwardedPacketsPerSecond),
    sfuCpuMicrosPerPacket: pick((s) => s.sfuCpuMicrosPerPacket),
    sfuCpuPercent: pick((s) => s.sfuCpuPercent),
    sfuRssMB: pick((s) => s.sfuRssMB),
    loss: pick((s) => s.loss),
    latencyMs: { p50: pick((s) => s.latencyMs.p50), p99: pick((s) => s.latencyMs.p99) },
    ...(samples.every((s) => s.sfuForwardDelayMs)
      ? {
          sfuForwardDelayMs: {
            p50: pick((s) => s.sfuForwardDelayMs!.p50),
            p99: pick((s) => s.sfuForwardDelayMs!.p99),
          },
        }
      : {}),
    ...(idle.length > 0
      ? { idleCpuPercent: round(median(idle.map((s) => s.idleCpuPercent!)), 2) }
      : {}),
    runs: samples.map((s) => s.sfuCpuMicrosPerPacket),
  };
}

/**
 * CPU µs per extra forwarded packet between two fan-outs: the slope of CPU time per second
 * over forwarded packets per second (docs/benchmarks.md's "marginal cost").
 */
function marginal(
  from: ReturnType<typeof summarize> | undefined,
  to: ReturnType<typeof summarize> | undefined,
): number | undefined {
  if (!from || !to || to.forwardedPacketsPerSecond === from.forwardedPacketsPerSecond)
    return undefined;
  const cpuPerSecond = (x: typeof from) => x.sfuCpuMicrosPerPacket * x.forwardedPacketsPerSecond;
  return round(
    (cpuPerSecond(to) - cpuPerSecond(from)) /
      (to.forwardedPacketsPerSecond - from.forwardedPacketsPerSecond),
  );
}

/** Marginal costs between consecutive fan-outs and from the smallest to the largest. */
function marginals(summaries: Map<number, ReturnType<typeof summarize>>) {
  const ns = [...summaries.keys()].sort((a, b) => a - b);
  const out: Record<string, number | undefined> = {};
  for (let i = 1; i < ns.length; i++)
    out[`${ns[i - 1]}→${ns[i]}`] = marginal(summaries.get(ns[i - 1]!), summaries.get(ns[i]!));
  if (ns.length > 2)
    out[`${ns[0]}→${ns.at(-1)}`] = marginal(summaries.get(ns[0]!), summaries.get(ns.at(-1)!));
  return out;
}

function machine(loadBefore: number[]) {
  return {
    cpus: 2,
    loadAverageBefore: loadBefore.map((l) => round(l)),
    loadAverageAfter: loadavg().map((l) => round(l)),
  };
}

const LOAD =
  "VP8-shaped RTP, 1100-byte payload, 3 packets/frame, 300 packets/s, key frame every 100 frames; rooms add 50 packets/s Opus-shaped audio per participant";

/**
 * `--compare janus`: per fan-out size and repetition, Parley and Janus back to back (which
 * goes first alternates), and the ratio of their CPU per forwarded packet per repetition.
 */
async function compareWithJanus() {
  const started = Date.now();
  const loadBefore = loadavg();
  const janus = janusBinary()!;
  const largest = Math.max(...SUBSCRIBERS);
  const parleySummaries = new Map<number, ReturnType<typeof summarize>>();
  const janusSummaries = new Map<number, ReturnType<typeof summarize>>();
  const fanout: Record<string, unknown> = {};
  const idleRatios: number[] = [];
  for (const n of SUBSCRIBERS) {
    const parley: Sample[] = [];
    const reference: Sample[] = [];
    const ratios: number[] = [];
    try {
      for (let run = 0; run < RUNS; run++) {
        const idle = n === largest;
        const runParley = () => attempt(`parley N=${n}`, () => fanOut(n, idle));
        const runJanus = () => attempt(`janus N=${n}`, () => fanOutJanus(n, idle));
        let p: Sample;
        let j: Sample;
        if (run % 2 === 0) {
          p = await runParley();
          j = await runJanus();
        } else {
          j = await runJanus();
          p = await runParley();
        }
        parley.push(p);
        reference.push(j);
        ratios.push(round(p.sfuCpuMicrosPerPacket / j.sfuCpuMicrosPerPacket, 3));
        if (idle && p.idleCpuPercent !== undefined && j.idleCpuPercent)
          idleRatios.push(round(p.idleCpuPercent / j.idleCpuPercent, 3));
        console.error(
          `N=${n} run ${run + 1}: parley ${p.sfuCpuMicrosPerPacket} µs, janus ${j.sfuCpuMicrosPerPacket} µs, ratio ${ratios.at(-1)}` +
            (idle ? `; idle ${p.idleCpuPercent} % vs ${j.idleCpuPercent} %` : ""),
        );
      }
      parleySummaries.set(n, summarize(parley));
      janusSummaries.set(n, summarize(reference));
      fanout[`N=${n}`] = {
        ratio: round(median(ratios), 3),
        ratios,
        parley: parleySummaries.get(n),
        janus: janusSummaries.get(n),
      };
    } catch (err) {
      fanout[`N=${n}`] = { error: String(err) };
    }
    console.error(`fan-out N=${n}:`, JSON.stringify(fanout[`N=${n}`]));
  }
  const idleOf = (m: Map<number, ReturnType<typeof summarize>>) => m.get(largest)?.idleCpuPercent;
  console.info(
    JSON.stringify(
      {
        compare: `parley vs janus ${janus.version} (VideoRoom), same bots and load, back to back per repetition`,
        load: "VP8-shaped RTP, 1100-byte payload, 3 packets/frame, 300 packets/s, key frame every 100 frames",
        bots: args.bots,
        window: `${WINDOW_S} s after all connected + ${WARMUP_S} s warm-up; ${RUNS} repetitions; ratio = median of the paired ratios (Parley ÷ Janus CPU per forwarded packet)`,
        srtp: "AEAD_AES_128_GCM",
        network: `private network namespace, media on ${PRIVATE_MEDIA_IP} (${PRIVATE_INTERFACE})`,
        parleyWorkers: `SFU_WORKERS=${process.env.SFU_WORKERS || availableParallelism()} (rooms spread from ${process.env.SFU_ROOM_PEERS_PER_WORKER || 25} participants per worker)`,
        machine: machine(loadBefore),
        fanout,
        marginalMicrosPerExtraPacket: {
          parley: marginals(parleySummaries),
          janus: marginals(janusSummaries),
        },
        idle: {
          subscribers: largest,
          window: `${IDLE_WINDOW_S} s, ${IDLE_SETTLE_S} s after the media stopped`,
          parleyCpuPercent: idleOf(parleySummaries),
          janusCpuPercent: idleOf(janusSummaries),
          ratio: idleRatios.length > 0 ? round(median(idleRatios), 3) : undefined,
          ratios: idleRatios,
        },
        seconds: Math.round((Date.now() - started) / 1000),
      },
      null,
      2,
    ),
  );
}

async function main() {
  const started = Date.now();
  const loadBefore = loadavg();
  const largest = Math.max(...SUBSCRIBERS);
  const fanout: Record<string, unknown> = {};
  const summaries = new Map<number, ReturnType<typeof summarize>>();
  for (const n of SUBSCRIBERS) {
    try {
      const samples: Sample[] = [];
      for (let run = 0; run < RUNS; run++)
        samples.push(await attempt(`fan-out N=${n}`, () => fanOut(n, n === largest)));
      summaries.set(n, summarize(samples));
      fanout[`N=${n}`] = summaries.get(n);
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
        load: LOAD,
        bots: args.bots,
        window: `${WINDOW_S} s after all connected + ${WARMUP_S} s warm-up; medians of ${RUNS} runs`,
        srtp: "AEAD_AES_128_GCM",
        forwardingPath: PATH,
        machine: machine(loadBefore),
        fanout,
        marginalMicrosPerExtraPacket: marginals(summaries),
        rooms,
        seconds: Math.round((Date.now() - started) / 1000),
      },
      null,
      2,
    ),
  );
}

if (args.compare === "janus") {
  if (!janusBinary()) {
    console.error(
      "bench:sfu --compare janus needs Janus: apt-get install janus (Debian's package; nothing is installed here)",
    );
    process.exit(2);
  }
  if (!inPrivateNetwork()) {
    process.exit(await rerunInPrivateNetwork());
  }
  setUpPrivateNetwork();
  await compareWithJanus();
} else {
  await main();
}
