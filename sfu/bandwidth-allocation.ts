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
 * worked), the estimate falls or loss appears (congestion: back down), or 20 s pass. A call
 * starts as a probe (the first estimates are the estimator's start value, not the link's);
 * later probes follow a back-off after a downgrade (8 s, doubling to 64 s while probes fail).
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
const PROBE_BACKOFF_MIN_MS = 8_000;
const PROBE_BACKOFF_MAX_MS = 64_000;
/** A probe gives up when the estimate has not reached what is sent by then. */
const PROBE_MAX_MS = 20_000;
/** An estimate this far below where the probe found it means congestion. */
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

/** One subscriber connection's view of its downlink. */
export class DownlinkEstimate {
  private remb: { bps: number; at: number } | undefined;
  private loss = 0;
  private lossAt = 0;
  private probeBackoffMs = PROBE_BACKOFF_MIN_MS;
  private lastDowngradeAt = 0;
  private probeStartedAt = -Infinity;
  private probeFailedAt = -Infinity;
  /**
   * The probe under way: when it started (NaN: at the first budget asked for) and the
   * estimate it started from (set by the first estimate seen during it).
   */
  private probe: { startedAt: number; floorBps: number | undefined } | undefined = {
    startedAt: Number.NaN,
    floorBps: undefined,
  };

  /** REMB from the subscriber (bits/s). */
  onRemb(bps: number, now: number): void {
    this.remb = { bps, at: now };
  }

  /** Fraction lost (0..1) from a receiver report block about one of our streams. */
  onLoss(fraction: number, now: number): void {
    // The worst stream in the last two seconds counts.
    this.loss = now - this.lossAt > 2_000 ? fraction : Math.max(this.loss, fraction);
    this.lossAt = now;
  }

  get estimateBps(): number | undefined {
    return this.remb?.bps;
  }

  get probing(): boolean {
    return this.probe !== undefined;
  }

  /**
   * Bits/s the subscriber may receive now. `usageBps` is what we currently send it;
   * `constrained` says whether some track is held below the layer it wants.
   */
  budget(now: number, usageBps: number, constrained: boolean): number {
    const remb = this.remb && now - this.remb.at < ESTIMATE_TTL_MS ? this.remb.bps : undefined;
    const lossy = now - this.lossAt < 2_000 && this.loss > LOSS_LIMIT;
    let budget = remb ?? Infinity;
    if (lossy) budget = Math.min(budget, usageBps * 0.85);
    if (this.probe) {
      const probe = this.probe;
      if (Number.isNaN(probe.startedAt)) probe.startedAt = now;
      if (remb !== undefined) probe.floorBps ??= remb;
      const congested =
        lossy || (remb !== undefined && remb < probe.floorBps! * PROBE_CONGESTION_DROP);
      const arrived = remb !== undefined && remb >= usageBps;
      const expired = now - probe.startedAt > PROBE_MAX_MS;
      if (!congested && !arrived && !expired) return Infinity;
      this.probe = undefined;
      if (!arrived) this.probeFailedAt = now;
    }
    if (!Number.isFinite(budget) || !constrained) return budget;
    // A receive-side estimate stays near what it gets: lift the cap now and then and see.
    const quiet =
      now - this.lastDowngradeAt >= this.probeBackoffMs &&
      now - this.probeStartedAt >= this.probeBackoffMs;
    if (quiet && !lossy && budget >= usageBps * 1.2) {
      this.probeStartedAt = now;
      this.probe = { startedAt: now, floorBps: remb };
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
