/**
 * Sharing one subscriber's downlink among the video tracks it receives (docs/sfu.md,
 * "Bandwidth"). The estimate is the subscriber's own: REMB from its receive-side estimator
 * (browsers send it when abs-send-time and goog-remb are negotiated, as on our subscribe
 * connections), lowered when its receiver reports show loss. Each video track wants the
 * layer its tile needs; when the sum does not fit, the smallest tiles step down first.
 *
 * Hysteresis: a track goes up only when the result still fits in the budget less 15 %.
 * A browser's REMB never rises far above what it receives (about 1.5×), and rises only a
 * few per cent a second, so the SFU probes: it lifts the cap and holds the higher layers
 * while the estimate climbs towards what it now sends, until it gets there (the probe
 * worked), the estimate falls or loss appears (congestion: back down), or it stops climbing
 * for 5 s (or a minute passes). A call starts as a probe (the first estimates are the
 * estimator's start value, not the link's). Later probes lift the cap while a track is held
 * below the layer it wants: after a back-off (8 s, doubling to 64 s while probes fail), and
 * at once when a track asks for more (a tile enlarged) unless a downgrade came within the
 * back-off. A probe has arrived when the estimate covers what the tracks want.
 */
import { LAYER_ORDER, rank } from "./layer-selection";
import type { SimulcastLayer } from "./protocol";

/** Assumed before a layer has been measured (a 720p camera's usual simulcast rates). */
export const NOMINAL_BITRATE: Record<SimulcastLayer, number> = {
  low: 150_000,
  medium: 500_000,
  high: 1_500_000,
};

const UPGRADE_HEADROOM = 1.15;
/** A REMB older than this no longer limits anything. */
const ESTIMATE_TTL_MS = 5_000;
const LOSS_LIMIT = 0.1;
/** A receiver report over the limit holds the budget down this long. */
const LOSS_HOLD_MS = 2_000;
const PROBE_BACKOFF_MIN_MS = 8_000;
const PROBE_BACKOFF_MAX_MS = 64_000;
/**
 * A probe gives up when the estimate has not risen for this long (Chromium's climbs ~8 %
 * a second while it receives more than it estimates)…
 */
const PROBE_STALL_MS = 5_000;
/** A rise smaller than this is not progress. */
const PROBE_PROGRESS = 1.02;
/** …or has not reached what the tracks want by then (from 150 kbps to 2.5 Mbps at 8 %/s: 37 s). */
const PROBE_MAX_MS = 60_000;
/**
 * An estimate this far below where the probe found it, or below what is sent, means
 * congestion.
 */
const PROBE_CONGESTION_DROP = 0.85;

export interface VideoDemand {
  id: string;
  /** The layer its tile or preference asks for. */
  wanted: SimulcastLayer;
  current: SimulcastLayer | undefined;
  /** Measured (or nominal) bitrate per layer, bits/s. */
  bitrates: Record<SimulcastLayer, number>;
  /** Larger tiles keep their quality longer. */
  priority: number;
}

/**
 * The highest layer each track may have within `budget` bits/s (Infinity: no limit).
 * `fixedBps` is what the connection spends anyway (audio, non-simulcast video).
 */
export function allocate(
  demands: VideoDemand[],
  budget: number,
  fixedBps = 0,
): Map<string, SimulcastLayer> {
  const keep = fit(demands, budget - fixedBps);
  const up = fit(demands, budget / UPGRADE_HEADROOM - fixedBps);
  const caps = new Map<string, SimulcastLayer>();
  for (const demand of demands) {
    const k = keep.get(demand.id)!;
    const u = up.get(demand.id)!;
    const current = demand.current ?? "low";
    // Stay where we are if it still fits; go up only as far as the stricter budget allows.
    let cap = rank(k) < rank(current) ? k : maxLayer(u, minLayer(current, k));
    if (rank(cap) > rank(demand.wanted)) cap = demand.wanted;
    caps.set(demand.id, cap);
  }
  return caps;
}

/** Steps the lowest-priority tracks down until the total fits (never below "low"). */
function fit(demands: VideoDemand[], budget: number): Map<string, SimulcastLayer> {
  const chosen = new Map(demands.map((d) => [d.id, d.wanted]));
  let total = demands.reduce((sum, d) => sum + d.bitrates[d.wanted], 0);
  const byPriority = [...demands].sort((a, b) => a.priority - b.priority);
  while (total > budget) {
    const victim = byPriority.find((d) => chosen.get(d.id) !== "low");
    if (!victim) break;
    const from = chosen.get(victim.id)!;
    const to = LAYER_ORDER[rank(from) - 1]!;
    chosen.set(victim.id, to);
    total += victim.bitrates[to] - victim.bitrates[from];
  }
  return chosen;
}

function minLayer(a: SimulcastLayer, b: SimulcastLayer): SimulcastLayer {
  return rank(a) <= rank(b) ? a : b;
}

function maxLayer(a: SimulcastLayer, b: SimulcastLayer): SimulcastLayer {
  return rank(a) >= rank(b) ? a : b;
}

interface Probe {
  startedAt: number;
  floorBps: number | undefined;
  peakBps: number;
  peakAt: number;
}

function newProbe(startedAt: number, floorBps: number | undefined): Probe {
  return { startedAt, floorBps, peakBps: floorBps ?? 0, peakAt: startedAt };
}

/** One subscriber connection's view of its downlink. */
export class DownlinkEstimate {
  private remb: { bps: number; at: number } | undefined;
  /** When a receiver report last showed more loss than {@link LOSS_LIMIT}. */
  private lossyAt = -Infinity;
  private probeBackoffMs = PROBE_BACKOFF_MIN_MS;
  /** Never, to begin with (the clock is the thread's `performance.now()`, 0 at its start). */
  private lastDowngradeAt = -Infinity;
  private probeStartedAt = -Infinity;
  private probeFailedAt = -Infinity;
  /**
   * The probe under way: when it started (NaN: at the first budget asked for), the estimate
   * it started from (set by the first estimate seen during it), and the highest estimate
   * seen during it and when it was reached.
   */
  private probe: Probe | undefined = newProbe(Number.NaN, undefined);

  /** REMB from the subscriber (bits/s). */
  onRemb(bps: number, now: number): void {
    this.remb = { bps, at: now };
  }

  /** Fraction lost (0..1) from a receiver report block about one of our streams. */
  onLoss(fraction: number, now: number): void {
    // Any stream's report over the limit in the last two seconds counts. (Until 2026-12-06
    // the worst fraction was kept for as long as reports kept coming less than two seconds
    // apart, as browsers send them: one lossy second held a viewer down for the whole call.)
    if (fraction > LOSS_LIMIT) this.lossyAt = now;
  }

  get estimateBps(): number | undefined {
    return this.remb?.bps;
  }

  get probing(): boolean {
    return this.probe !== undefined;
  }

  /**
   * Bits/s the subscriber may receive now. `usageBps` is what we currently send it;
   * `constrained` says whether some track is held below the layer it wants; `wantedBps` is
   * what it would take with every track at that layer, and `wantsMore` that some track
   * asks for a higher layer than at the last allocation (a tile enlarged).
   */
  budget(
    now: number,
    usageBps: number,
    constrained: boolean,
    { wantedBps = usageBps, wantsMore = false }: { wantedBps?: number; wantsMore?: boolean } = {},
  ): number {
    const remb = this.remb && now - this.remb.at < ESTIMATE_TTL_MS ? this.remb.bps : undefined;
    const lossy = now - this.lossyAt < LOSS_HOLD_MS;
    let budget = remb ?? Infinity;
    if (lossy) budget = Math.min(budget, usageBps * 0.85);
    if (this.probe) {
      const probe = this.probe;
      if (Number.isNaN(probe.startedAt)) probe.startedAt = probe.peakAt = this.probeStartedAt = now;
      if (remb !== undefined) {
        probe.floorBps ??= remb;
        if (remb >= probe.peakBps * PROBE_PROGRESS) {
          probe.peakBps = remb;
          probe.peakAt = now;
        }
      }
      const congested =
        lossy || (remb !== undefined && remb < probe.floorBps! * PROBE_CONGESTION_DROP);
      // Arrived once the estimate covers what the tracks want, not merely what is sent:
      // until the higher layers' key frames come, that is still the lower layers.
      const arrived = remb !== undefined && remb >= Math.max(usageBps, wantedBps);
      const expired = now - probe.peakAt > PROBE_STALL_MS || now - probe.startedAt > PROBE_MAX_MS;
      if (!congested && !arrived && !expired) return Infinity;
      this.probe = undefined;
      if (!arrived) this.probeFailedAt = now;
      return budget;
    }
    if (!Number.isFinite(budget) || !constrained) return budget;
    // A receive-side estimate stays near what it gets: lift the cap and see. Not within the
    // back-off of a downgrade, nor with loss; otherwise once the back-off has passed since
    // the last probe and the estimate covers what is sent, or at once when a track has just
    // asked for more (a tile enlarged) and the estimate is not well below what is sent.
    // Chromium's estimate runs only a few per cent above what it receives, lags it by a
    // second and climbs ~8 %/s: waiting for headroom above what is sent left an enlarged
    // tile on its small layer for seconds.
    const backedOff = now - this.lastDowngradeAt >= this.probeBackoffMs;
    const due = wantsMore
      ? budget >= usageBps * PROBE_CONGESTION_DROP
      : now - this.probeStartedAt >= this.probeBackoffMs && budget >= usageBps;
    if (backedOff && !lossy && due) {
      this.probeStartedAt = now;
      this.probe = newProbe(now, remb);
      return Infinity;
    }
    return budget;
  }

  /** The allocation lowered some track. One right after a failed probe doubles the back-off. */
  onDowngrade(now: number): void {
    this.lastDowngradeAt = now;
    const probeFailed = now - this.probeFailedAt < 1_000;
    this.probeBackoffMs = probeFailed
      ? Math.min(this.probeBackoffMs * 2, PROBE_BACKOFF_MAX_MS)
      : PROBE_BACKOFF_MIN_MS;
  }
}
