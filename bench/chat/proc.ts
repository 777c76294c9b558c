import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * CPU and memory of processes from /proc (Linux), the way docs/benchmarks.md measures: the
 * change in utime + stime over a window, in clock ticks of `getconf CLK_TCK`.
 */
export const CLOCK_TICKS_PER_S = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of a process in seconds, or null once it is gone. */
export function processCpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces; fields after its ')' are fixed.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / CLOCK_TICKS_PER_S;
  } catch {
    return null;
  }
}

/** Sum of processCpuSeconds over pids that still exist. */
export function totalCpuSeconds(pids: number[]): number {
  let total = 0;
  for (const pid of pids) total += processCpuSeconds(pid) ?? 0;
  return total;
}

/** Resident set size in bytes (VmRSS), or null once the process is gone. */
export function rssBytes(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Busy and total jiffies of the whole machine, to tell when every core was saturated. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  // idle + iowait are the idle columns.
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: total - idle, total };
}

/** Direct children of a process (needs a kernel with /proc/<pid>/task/<tid>/children). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** Samples a process's RSS every `intervalMs` until stopped; reports the peak seen. */
export function rssSampler(pid: number, intervalMs = 200) {
  let peak = rssBytes(pid) ?? 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid) ?? 0);
  }, intervalMs);
  return {
    peak: () => peak,
    stop: () => {
      clearInterval(timer);
      peak = Math.max(peak, rssBytes(pid) ?? 0);
      return peak;
    },
  };
}

/**
 * CPU of a set of processes over a window: call `start` and `stop`; the result is the CPU
 * percentage (100 = one core) and the CPU seconds spent.
 */
export function cpuWindow(pids: () => number[]) {
  let startCpu = 0;
  let startAt = 0;
  let startMachine = machineCpu();
  return {
    start() {
      startCpu = totalCpuSeconds(pids());
      startAt = performance.now();
      startMachine = machineCpu();
    },
    stop() {
      const seconds = (performance.now() - startAt) / 1000;
      const cpu = totalCpuSeconds(pids()) - startCpu;
      const machine = machineCpu();
      const machineBusy =
        (machine.busy - startMachine.busy) / Math.max(1, machine.total - startMachine.total);
      return {
        cpuSeconds: cpu,
        cpuPercent: (cpu / seconds) * 100,
        machineBusyPercent: machineBusy * 100,
      };
    },
  };
}
