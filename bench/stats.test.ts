import { describe, expect, it } from "vitest";
import { bootstrapInterval, median, percentiles } from "./stats";

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("bootstrapInterval", () => {
  it("brackets the statistic and narrows as the groups agree", () => {
    const spread = [1, 9, 2, 8, 3, 7, 4, 6, 5, 5];
    const wide = bootstrapInterval(spread, mean)!;
    expect(wide.low).toBeLessThan(5);
    expect(wide.high).toBeGreaterThan(5);
    // A mean of ten draws from 1–9 stays well inside the range.
    expect(wide.low).toBeGreaterThan(2.5);
    expect(wide.high).toBeLessThan(7.5);
    const tight = bootstrapInterval([4.9, 5.1, 5, 5, 4.95, 5.05, 5, 5, 5, 5], mean)!;
    expect(tight.high - tight.low).toBeLessThan((wide.high - wide.low) / 10);
  });

  it("resamples whole groups, so one bad round moves the interval", () => {
    const rounds = Array.from({ length: 15 }, (_, i) => (i === 0 ? [50] : [1, 1, 1]));
    const worst = (rs: readonly number[][]) => Math.max(...rs.flat());
    const interval = bootstrapInterval(rounds, worst)!;
    // Resamples without round 0 (about (14/15)^15 ≈ 35 % of them) see 1, the rest 50.
    expect(interval).toEqual({ low: 1, high: 50 });
  });

  it("is reproducible for a seed and differs between seeds", () => {
    const xs = Array.from({ length: 40 }, (_, i) => (i * 7919) % 101);
    expect(bootstrapInterval(xs, mean, { seed: 3 })).toEqual(
      bootstrapInterval(xs, mean, { seed: 3 }),
    );
    expect(bootstrapInterval(xs, mean, { seed: 3 })).not.toEqual(
      bootstrapInterval(xs, mean, { seed: 4 }),
    );
  });

  it("is null when there is nothing to resample or no statistic", () => {
    expect(bootstrapInterval([], mean)).toBeNull();
    expect(bootstrapInterval([1, 2], () => null)).toBeNull();
  });
});

describe("percentiles and median", () => {
  it("take the nearest rank across sample arrays", () => {
    const q = percentiles([Float64Array.from([3, 1]), Float64Array.from([2, 4])], [50, 100]);
    expect(q).toEqual({ p50: 2, max: 4 });
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});
