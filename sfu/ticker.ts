/**
 * One timer per period per media worker (each worker thread has its own event loop, so its
 * own ticks): the periodic work of every connection and consumer (sender reports,
 * bandwidth allocation, transport-wide feedback, key-frame retries) joins a shared tick
 * instead of arming a timer each (issue 15: 50 idle
 * subscribers used to cost three timers each). Tasks run in the order they joined; one
 * that throws is logged and the others still run.
 */
import { logger } from "./log";

const log = logger("ticker");

interface Tick {
  timer: NodeJS.Timeout;
  tasks: Set<() => void>;
}

const ticks = new Map<number, Tick>();

/** Runs `task` every `periodMs` on the shared tick of that period; returns its cancel. */
export function every(periodMs: number, task: () => void): () => void {
  let tick = ticks.get(periodMs);
  if (!tick) {
    const tasks = new Set<() => void>();
    const timer = setInterval(() => {
      for (const run of tasks) {
        try {
          run();
        } catch (err) {
          log.error("periodic task failed", { periodMs, error: String(err) });
        }
      }
    }, periodMs);
    timer.unref();
    tick = { timer, tasks };
    ticks.set(periodMs, tick);
  }
  const { tasks } = tick;
  // A task may be added twice (two consumers sharing a closure): each registration counts.
  const entry = () => task();
  tasks.add(entry);
  return () => {
    if (!tasks.delete(entry) || tasks.size > 0) return;
    const current = ticks.get(periodMs);
    if (current?.tasks === tasks) {
      clearInterval(current.timer);
      ticks.delete(periodMs);
    }
  };
}

/** Shared timers running now (for tests: idle consumers must not add any). */
export function activeTicks(): number {
  return ticks.size;
}
