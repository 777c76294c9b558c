/**
 * Call quality you can see (issue 8): once a second (hooks.ts) the subscribe connection's
 * `getStats()` becomes one sample of every received track's counters; a tile turns the
 * samples of its own tracks into per-second points (bitrate, resolution, frame rate, loss,
 * round trip) and those into a level, `Good`, `Weak` or `Bad`. Pure functions over plain
 * data, so they are tested in Node. The thresholds and why: docs/calls.md ("Call quality").
 */
import { z } from "zod";

export type QualityLevel = "Good" | "Weak" | "Bad";

/** Samples kept: one a second over the last minute. */
export const SAMPLES_KEPT = 60;

/**
 * Where a tile turns Weak or Bad. Loss is what the decoder still misses after NACK
 * retransmission and Opus FEC repaired what they could; delay is the E-model's effective
 * one-way latency, half the round trip plus twice the jitter, compared with ITU-T G.114.
 */
export const THRESHOLDS = {
  /** Fraction of a track's packets lost over the last `lossWindow` seconds (its worst track). */
  loss: { weak: 0.03, bad: 0.1 },
  lossWindow: 5,
  /** A track with fewer packets than this in the window says nothing about loss (muted). */
  lossMinPackets: 50,
  /** Effective one-way delay, ms. */
  delayMs: { weak: 150, bad: 400 },
  /**
   * Video freezes over the last `freezeWindow` seconds, how many or how long in all; only
   * those with network trouble in their second or the one before (see `QualityPoint.trouble`).
   */
  freezes: { weak: 1, bad: 2, badSeconds: 1 },
  freezeWindow: 10,
  /** Nothing at all received for this long while media is expected: the link is down. */
  stallSeconds: 3,
  /** A level improves only after the better one has held this long; it drops at once. */
  recoverSeconds: 5,
} as const;

/** One received track's cumulative counters, as its inbound-rtp stats report them. */
export interface TrackCounters {
  kind: "audio" | "video";
  /** When the browser took them, ms. */
  timestamp: number;
  bytesReceived: number;
  packetsReceived: number;
  /** May go down: late and duplicate packets are counted back (RFC 3550). */
  packetsLost: number;
  framesDecoded?: number;
  framesPerSecond?: number;
  frameWidth?: number;
  frameHeight?: number;
  freezeCount?: number;
  /** Seconds. */
  totalFreezesDuration?: number;
  /** Seconds. */
  jitter?: number;
  /** Retransmissions and key frames this receiver asked for. */
  nackCount?: number;
  pliCount?: number;
  firCount?: number;
}

/** One look at the subscribe connection: every received track by its MediaStreamTrack id. */
export interface StatsSample {
  /** When the sample was taken, ms (Date.now()). */
  at: number;
  /** The selected candidate pair's current round-trip time, seconds; null when unknown. */
  rtt: number | null;
  tracks: Record<string, TrackCounters>;
}

/** What one tile received over one interval between two samples. */
export interface QualityPoint {
  /** The interval, ms: after `from`, up to `at`. */
  from: number;
  at: number;
  /** Bits per second, all the tile's tracks together. */
  bitrate: number;
  /** Packets that should have arrived (received + lost), all the tile's tracks together. */
  packets: number;
  /** Per track (by MediaStreamTrack id): packets due and of those lost. */
  streams: Record<string, { packets: number; lost: number }>;
  /** Video frame rate and size; null without video. */
  framesPerSecond: number | null;
  width: number | null;
  height: number | null;
  freezes: number;
  freezeSeconds: number;
  /**
   * Whether the network let the tile down in this interval: packets lost, retransmissions or
   * a key frame asked for. A freeze without it is the receiving machine being slow to decode
   * or draw (every packet came in time), which is no fault of the connection.
   */
  trouble: boolean;
  /** Seconds: the audio's when the tile has audio, else the video's (see `jitterOf`). */
  jitter: number | null;
  /** Seconds; the connection's, so the same on every tile. */
  rtt: number | null;
}

// zod 4 numbers are finite: NaN and Infinity are refused.
const amount = z.number().nonnegative();
const inboundRtp = z.object({
  type: z.literal("inbound-rtp"),
  kind: z.enum(["audio", "video"]),
  trackIdentifier: z.string(),
  timestamp: z.number(),
  bytesReceived: amount,
  packetsReceived: amount,
  packetsLost: z.number(),
  framesDecoded: amount.optional(),
  framesPerSecond: amount.optional(),
  frameWidth: amount.optional(),
  frameHeight: amount.optional(),
  freezeCount: amount.optional(),
  totalFreezesDuration: amount.optional(),
  jitter: amount.optional(),
  nackCount: amount.optional(),
  pliCount: amount.optional(),
  firCount: amount.optional(),
});
const transport = z.object({ type: z.literal("transport"), selectedCandidatePairId: z.string() });
const candidatePair = z.object({
  type: z.literal("candidate-pair"),
  id: z.string(),
  state: z.string().optional(),
  nominated: z.boolean().optional(),
  /** Firefox marks the pair in use; Chromium names it from the transport. */
  selected: z.boolean().optional(),
  currentRoundTripTime: amount.optional(),
  localCandidateId: z.string().optional(),
});
const localCandidate = z.object({
  type: z.literal("local-candidate"),
  /** "udp" or "tcp": how this side's packets leave it (to the TURN server, if relayed). */
  protocol: z.string().optional(),
  /** A relayed candidate's transport to the TURN server: "udp", "tcp" or "tls". */
  relayProtocol: z.string().optional(),
});

type CandidatePair = z.infer<typeof candidatePair>;

/** The candidate pair the connection uses now, as the report names it (undefined: none yet). */
function selectedPair(report: ReadonlyMap<string, unknown>): CandidatePair | undefined {
  const pairs: CandidatePair[] = [];
  let selectedPairId: string | undefined;
  for (const stat of report.values()) {
    const pair = candidatePair.safeParse(stat);
    if (pair.success) {
      pairs.push(pair.data);
      continue;
    }
    const t = transport.safeParse(stat);
    if (t.success) selectedPairId ??= t.data.selectedCandidatePairId;
  }
  return (
    pairs.find((p) => p.id === selectedPairId) ??
    pairs.find((p) => p.selected) ??
    pairs.find((p) => p.nominated && p.state === "succeeded")
  );
}

/**
 * Whether the connection's media goes over TCP now — ICE over TCP, or a TURN relay reached
 * over TCP or TLS — rather than UDP; null when the report does not say (no pair selected
 * yet, or no local candidate named).
 */
export function pathOverTcp(report: ReadonlyMap<string, unknown>): boolean | null {
  const pair = selectedPair(report);
  const local = pair?.localCandidateId ? report.get(pair.localCandidateId) : undefined;
  const candidate = localCandidate.safeParse(local);
  if (!candidate.success || !candidate.data.protocol) return null;
  const { protocol, relayProtocol } = candidate.data;
  return protocol === "tcp" || relayProtocol === "tcp" || relayProtocol === "tls";
}

/**
 * One sample from a `getStats()` report (any map of stats objects). Entries that are not
 * what the spec says are skipped, not trusted.
 */
export function sampleFromReport(report: ReadonlyMap<string, unknown>, at: number): StatsSample {
  const tracks: Record<string, TrackCounters> = {};
  for (const stat of report.values()) {
    const rtp = inboundRtp.safeParse(stat);
    if (!rtp.success) continue;
    const { type: _type, trackIdentifier, ...counters } = rtp.data;
    // A receiver reports one stream; should an old one be listed beside it, the busier counts.
    const seen = tracks[trackIdentifier];
    if (!seen || counters.packetsReceived > seen.packetsReceived)
      tracks[trackIdentifier] = counters;
  }
  return { at, rtt: selectedPair(report)?.currentRoundTripTime ?? null, tracks };
}

/** Adds a sample, keeping the last `SAMPLES_KEPT`. */
export function appendSample(samples: readonly StatsSample[], sample: StatsSample): StatsSample[] {
  return [...samples.slice(-(SAMPLES_KEPT - 1)), sample];
}

/**
 * The tile's points: one per interval between consecutive samples, over its own tracks
 * (by MediaStreamTrack id). A track seen for the first time, or whose counters went back
 * (a new session, a new stream), adds no rates for that interval.
 */
export function tilePoints(
  samples: readonly StatsSample[],
  trackIds: readonly string[],
): QualityPoint[] {
  const points: QualityPoint[] = [];
  for (let i = 1; i < samples.length; i++) {
    const prev = samples[i - 1]!;
    const cur = samples[i]!;
    const point: QualityPoint = {
      from: prev.at,
      at: cur.at,
      bitrate: 0,
      packets: 0,
      streams: {},
      framesPerSecond: null,
      width: null,
      height: null,
      freezes: 0,
      freezeSeconds: 0,
      trouble: false,
      jitter: null,
      rtt: cur.rtt,
    };
    const jitters: Pick<TrackCounters, "kind" | "jitter">[] = [];
    for (const id of trackIds) {
      const now = cur.tracks[id];
      if (!now) continue;
      jitters.push(now);
      const before = prev.tracks[id];
      const comparable =
        before !== undefined &&
        now.bytesReceived >= before.bytesReceived &&
        now.packetsReceived >= before.packetsReceived;
      const seconds = comparable ? (now.timestamp - before.timestamp) / 1000 : 0;
      if (comparable) {
        const lost = Math.max(0, now.packetsLost - before.packetsLost);
        const packets = now.packetsReceived - before.packetsReceived + lost;
        point.packets += packets;
        point.streams[id] = { packets, lost };
        const asked = (["nackCount", "pliCount", "firCount"] as const).some(
          (key) => (now[key] ?? 0) > (before[key] ?? 0),
        );
        point.trouble ||= lost > 0 || asked;
        point.freezes += Math.max(0, (now.freezeCount ?? 0) - (before.freezeCount ?? 0));
        point.freezeSeconds += Math.max(
          0,
          (now.totalFreezesDuration ?? 0) - (before.totalFreezesDuration ?? 0),
        );
        if (seconds > 0)
          point.bitrate += ((now.bytesReceived - before.bytesReceived) * 8) / seconds;
      }
      if (now.kind === "video") {
        point.width = now.frameWidth ?? point.width;
        point.height = now.frameHeight ?? point.height;
        const decoded =
          comparable && seconds > 0 && now.framesDecoded !== undefined
            ? Math.max(0, now.framesDecoded - (before.framesDecoded ?? 0)) / seconds
            : null;
        point.framesPerSecond = now.framesPerSecond ?? decoded ?? point.framesPerSecond;
      }
    }
    point.jitter = jitterOf(jitters);
    points.push(point);
  }
  return points;
}

/**
 * The audio's jitter where there is audio: video packets of one frame share a timestamp and
 * leave the sender spread out by its pacer, which reads as jitter with nothing wrong on the
 * network. Seconds; null when no track reports one.
 */
function jitterOf(tracks: Pick<TrackCounters, "kind" | "jitter">[]): number | null {
  const audio = tracks.filter((t) => t.kind === "audio" && t.jitter !== undefined);
  const chosen = audio.length > 0 ? audio : tracks.filter((t) => t.jitter !== undefined);
  return chosen.length > 0 ? Math.max(...chosen.map((t) => t.jitter!)) : null;
}

/**
 * The fraction lost over `points` on the tile's worst track (each track on its own, as
 * LiveKit scores its weakest link: a lossy microphone is not hidden by a busy camera).
 * Tracks with fewer than `minPackets` due say nothing; null when none says anything.
 */
export function lossOf(points: readonly QualityPoint[], minPackets = 1): number | null {
  const totals = new Map<string, { packets: number; lost: number }>();
  for (const point of points) {
    for (const [id, { packets, lost }] of Object.entries(point.streams)) {
      const total = totals.get(id) ?? { packets: 0, lost: 0 };
      totals.set(id, { packets: total.packets + packets, lost: total.lost + lost });
    }
  }
  const fractions = [...totals.values()]
    .filter((t) => t.packets >= minPackets)
    .map((t) => t.lost / t.packets);
  return fractions.length > 0 ? Math.max(...fractions) : null;
}

const RANK: Record<QualityLevel, number> = { Good: 0, Weak: 1, Bad: 2 };
const worst = (a: QualityLevel, b: QualityLevel): QualityLevel => (RANK[b] > RANK[a] ? b : a);
const grade = (value: number, limits: { weak: number; bad: number }): QualityLevel =>
  value >= limits.bad ? "Bad" : value >= limits.weak ? "Weak" : "Good";

/** What the level says, and why (for the details view). */
export interface Quality {
  level: QualityLevel;
  /** The measure that set it, when not Good. */
  reason: "loss" | "delay" | "freezes" | "nothing received" | null;
}

/** The level in words, with why when it is not Good ("Weak: packets are being lost"). */
export function describeQuality({ level, reason }: Quality): string {
  const why = {
    loss: "packets are being lost",
    delay: "the delay is long",
    freezes: "the video froze",
    "nothing received": "nothing is arriving",
  } as const;
  return reason ? `${level}: ${why[reason]}` : level;
}

/**
 * The tile's level from its points (oldest first). `mediaExpectedSince` is when the tile
 * last started expecting media (a camera on or a microphone unmuted; ms, as `at`), null
 * while it expects none; silence before then is not a fault. Null before the first point.
 */
export function qualityOf(
  points: readonly QualityPoint[],
  mediaExpectedSince: number | null,
): Quality | null {
  if (points.length === 0) return null;
  // Drops show at once; a recovery only once it has held for `recoverSeconds`.
  let result: Quality = { level: "Good", reason: null };
  for (
    let end = Math.max(1, points.length - THRESHOLDS.recoverSeconds + 1);
    end <= points.length;
    end++
  ) {
    const at = assess(points.slice(0, end));
    if (RANK[at.level] > RANK[result.level]) result = at;
  }
  const silent = points.slice(-THRESHOLDS.stallSeconds);
  const stalled =
    mediaExpectedSince !== null &&
    silent.length === THRESHOLDS.stallSeconds &&
    silent[0]!.from >= mediaExpectedSince &&
    silent.every((p) => p.packets === 0);
  return stalled ? { level: "Bad", reason: "nothing received" } : result;
}

/** The level at the last of `points`, from loss, delay and freezes over their windows. */
function assess(points: readonly QualityPoint[]): Quality {
  const last = points[points.length - 1]!;
  const lossPoints = points.slice(-THRESHOLDS.lossWindow);
  const loss = grade(lossOf(lossPoints, THRESHOLDS.lossMinPackets) ?? 0, THRESHOLDS.loss);

  const delayMs = ((last.rtt ?? 0) / 2 + 2 * (last.jitter ?? 0)) * 1000;
  const delay = grade(delayMs, THRESHOLDS.delayMs);

  // A freeze shows once its frame is drawn: the trouble behind it may be a second earlier.
  const from = Math.max(0, points.length - THRESHOLDS.freezeWindow);
  const freezePoints = points
    .slice(from)
    .filter((p, i) => p.trouble || points[from + i - 1]?.trouble === true);
  const count = freezePoints.reduce((sum, p) => sum + p.freezes, 0);
  const seconds = freezePoints.reduce((sum, p) => sum + p.freezeSeconds, 0);
  const freezes =
    seconds >= THRESHOLDS.freezes.badSeconds ? "Bad" : grade(count, THRESHOLDS.freezes);

  const level = worst(worst(loss, delay), freezes);
  const reason =
    level === "Good" ? null : loss === level ? "loss" : delay === level ? "delay" : "freezes";
  return { level, reason };
}
