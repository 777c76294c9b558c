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
