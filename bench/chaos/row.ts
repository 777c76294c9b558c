import { loadavg } from "node:os";
import { startStallWatchdog, type StallWatchdog } from "@/lib/stall-watchdog";

/**
 * One row of the fault matrix (issue 9, "Prove it"): what `npm run chaos` prints for it and
 * what its Vitest test asserts. A row passes when every check held; `failures` says which
 * did not, in words, and `figures` are the measurements behind them.
 */
export interface RowResult {
  row: string;
  fault: string;
  db: "pglite" | "postgres" | null;
  pass: boolean;
  figures: Record<string, number | string | boolean>;
  failures: string[];
}

/** The longest main-thread stall a row tolerates (the watchdog logs anything over 200 ms). */
export const MAX_STALL_MS = 1000;

/**
 * Collects a row's checks and figures; `done()` makes the result. `watch()` starts the
 * stall watchdog once the row's setup is over (opening PGlite in process compiles its
 * WebAssembly on the main thread, as the web node does once at start), so that the fault
 * itself is judged: a stall over MAX_STALL_MS from then on fails the row.
 */
export function rowRecorder(row: string, fault: string, db: RowResult["db"]) {
  const figures: RowResult["figures"] = {};
  const failures: string[] = [];
  let watchdog: StallWatchdog | null = null;
  return {
    figures,
    check(ok: boolean, what: string) {
      if (!ok) failures.push(what);
    },
    watch() {
      watchdog ??= startStallWatchdog({ log: (message) => progress(`${row}: ${message}`) });
    },
    done(): RowResult {
      // Timing figures mean little on a saturated machine: say how busy it was.
      figures.loadAverage1m = Math.round(loadavg()[0]! * 10) / 10;
      if (watchdog) {
        watchdog.stop();
        figures.worstStallMs = watchdog.worstMs();
        if (watchdog.worstMs() > MAX_STALL_MS) {
          failures.push(
            `the event loop stalled ${watchdog.worstMs()} ms (over ${MAX_STALL_MS} ms)`,
          );
        }
      }
      return { row, fault, db, pass: failures.length === 0, figures, failures };
    },
  };
}

/** Progress goes to stderr; stdout is the JSON report. */
export function progress(line: string): void {
  process.stderr.write(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
