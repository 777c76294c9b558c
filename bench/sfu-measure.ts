/**
 * What the SFU benchmarks (bench/sfu.ts, bench/capacity.ts) measure with: a process's CPU
 * and memory from /proc, and percentiles of the SFU's histograms.
 */
import { readFileSync } from "node:fs";
import { round } from "./stats";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux
const PAGE_SIZE = 4096;

/** utime + stime (µs) and RSS (bytes) of a process, all its threads. */
export function processUsage(pid: number): { cpuMicros: number; rss: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { cpuMicros: (ticks * 1e6) / TICKS_PER_SECOND, rss: Number(fields[21]) * PAGE_SIZE };
}

/** Percentiles from a histogram of counts with fixed-width buckets. */
export function percentiles(counts: number[], bucketMs: number): { p50: number; p99: number } {
  const total = counts.reduce((a, b) => a + b, 0);
  const at = (q: number) => {
    let seen = 0;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i]!;
      if (seen >= q * total) return round((i + 0.5) * bucketMs, 3);
    }
    return round(counts.length * bucketMs, 3);
  };
  return total === 0 ? { p50: 0, p99: 0 } : { p50: at(0.5), p99: at(0.99) };
}
