/** Latency samples → percentiles, merged across client workers. */

export function percentiles(
  samples: Float64Array[],
  points: number[],
): Record<string, number | null> {
  let length = 0;
  for (const s of samples) length += s.length;
  const all = new Float64Array(length);
  let offset = 0;
  for (const s of samples) {
    all.set(s, offset);
    offset += s.length;
  }
  all.sort();
  const result: Record<string, number | null> = {};
  for (const p of points) {
    const key = p === 100 ? "max" : `p${p}`;
    if (all.length === 0) {
      result[key] = null;
      continue;
    }
    // Nearest-rank percentile.
    const rank = Math.min(all.length - 1, Math.max(0, Math.ceil((p / 100) * all.length) - 1));
    result[key] = round(all[rank]!);
  }
  return result;
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** A growable Float64Array, so hundreds of thousands of samples do not make a JS array of boxes. */
export class Samples {
  private data = new Float64Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = value;
  }

  toArray(): Float64Array {
    return this.data.slice(0, this.length);
  }
}

/**
 * A percentile-bootstrap interval for `statistic` computed over `groups`: the groups (a
 * benchmark's rounds, whose samples move together) are drawn with replacement `resamples`
 * times, and the interval is the middle `confidence` of the statistic's values. Seeded, so a
 * run's interval can be reproduced from its samples. Null when the statistic is null for the
 * groups as they are.
 */
export function bootstrapInterval<T>(
  groups: readonly T[],
  statistic: (groups: readonly T[]) => number | null,
  options: { resamples?: number; confidence?: number; seed?: number } = {},
): { low: number; high: number } | null {
  const { resamples = 2000, confidence = 0.95, seed = 1 } = options;
  if (groups.length === 0 || statistic(groups) === null) return null;
  const random = mulberry32(seed);
  const values: number[] = [];
  const drawn: T[] = new Array<T>(groups.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < groups.length; i++)
      drawn[i] = groups[Math.floor(random() * groups.length)]!;
    const value = statistic(drawn);
    if (value !== null && Number.isFinite(value)) values.push(value);
  }
  if (values.length === 0) return null;
  values.sort((a, b) => a - b);
  const tail = (1 - confidence) / 2;
  const at = (q: number) => values[Math.min(values.length - 1, Math.floor(q * values.length))]!;
  return { low: at(tail), high: at(1 - tail) };
}

/** A small seeded generator of uniform numbers in [0, 1) (Mulberry32). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
