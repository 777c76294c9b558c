import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import { performance } from "node:perf_hooks";

/**
 * The main-thread stall watchdog, for the web node and the SFU alike (it imports nothing
 * but `node:` modules, so the SFU may use it). A timer ticks every INTERVAL_MS; when a tick
 * comes late, something held the event loop, and how long it was held is the loop's busy
 * time since the last tick (`performance.eventLoopUtilization`): a tick's lateness alone
 * misses the part of the stall before it was due, up to a whole interval. When that is over
 * the threshold (200 ms), a `stalled` line is logged with what the process was doing: the
 * activities noted during the stall and the last one before it.
 *
 * Each tick wakes the thread (the web node's, the SFU's and each of its media workers'): at
 * 50 ms those wakeups were half a percent of a core of an idle SFU on a 2-core VM (issue 15;
 * docs/sfu.md), so the interval is as long as it can be without misreading a busy loop: the
 * busy time between two ticks is at most the interval plus the lateness, so a loop kept busy
 * by tasks shorter than the threshold less the interval (50 ms) never reads as stalled.
 *
 * Activities are noted by the code that starts work (`noteActivity`): HTTP requests are
 * noted here, from Node's `http.server.request.start` diagnostics channel; the web node
 * notes each socket command as it arrives. The record lives on globalThis, because Next's
 * route handlers run in another module graph than server.ts (docs/architecture.md).
 */
const INTERVAL_MS = 150;
const THRESHOLD_MS = 200;
/** Activities remembered; enough to cover one tick at any realistic request rate's tail. */
const REMEMBERED = 64;

interface Activity {
  label: string;
  at: number;
}
type Holder = { [KEY]?: { ring: Activity[]; next: number } };
const KEY = Symbol.for("parley.activity");

function record(): { ring: Activity[]; next: number } {
  const holder = globalThis as Holder;
  return (holder[KEY] ??= { ring: [], next: 0 });
}

/** Notes that `label` (a command or route name, never user data) starts now. */
export function noteActivity(label: string): void {
  const r = record();
  r.ring[r.next] = { label, at: performance.now() };
  r.next = (r.next + 1) % REMEMBERED;
}

export interface Stall {
  /** How long the event loop was held, in ms. */
  ms: number;
  /** Activities noted while it was held, oldest first (at most 10). */
  during: string[];
  /** The last activity noted before it, with how long before, or null. */
  before: string | null;
}

export interface StallWatchdog {
  /** Every stall seen since start. */
  stalls(): readonly Stall[];
  /** The longest the event loop was held between two ticks, stall or not (ms). */
  worstMs(): number;
  stop(): void;
}

export function startStallWatchdog(options: {
  log: (message: string, fields: Record<string, unknown>) => void;
  thresholdMs?: number;
}): StallWatchdog {
  const threshold = options.thresholdMs ?? THRESHOLD_MS;
  const stalls: Stall[] = [];
  let worst = 0;
  let last = performance.now();
  let utilization = performance.eventLoopUtilization();
  const onRequest = (message: unknown) => {
    const req = (message as { request?: IncomingMessage }).request;
    if (req) noteActivity(`${req.method ?? "?"} ${routeOf(req.url ?? "")}`);
  };
  subscribe("http.server.request.start", onRequest);
  const timer = setInterval(() => {
    const now = performance.now();
    const delay = now - last - INTERVAL_MS;
    const windowStart = last;
    last = now;
    const previous = utilization;
    utilization = performance.eventLoopUtilization();
    // On time: nothing held the loop past this tick. Late: held for (about) the busy time.
    const held =
      delay > 0
        ? Math.max(delay, performance.eventLoopUtilization(utilization, previous).active)
        : 0;
    worst = Math.max(worst, held);
    if (held <= threshold) return;
    const stall = describe(Math.round(held), windowStart, now);
    stalls.push(stall);
    options.log(`event loop stalled ${stall.ms} ms`, {
      during: stall.during,
      before: stall.before,
    });
  }, INTERVAL_MS);
  timer.unref();
  return {
    stalls: () => stalls,
    worstMs: () => Math.round(worst),
    stop() {
      clearInterval(timer);
      unsubscribe("http.server.request.start", onRequest);
    },
  };
}

function describe(ms: number, from: number, to: number): Stall {
  const noted = record()
    .ring.filter((a) => a.at <= to)
    .sort((a, b) => a.at - b.at);
  const during = noted.filter((a) => a.at > from).map((a) => a.label);
  const previous = noted.filter((a) => a.at <= from).at(-1);
  return {
    ms,
    during: during.slice(-10),
    before: previous ? `${previous.label} (${Math.round(from - previous.at)} ms before)` : null,
  };
}

/** A request's path with long segments (ids, room links, tokens) replaced: no secrets in logs. */
function routeOf(url: string): string {
  const path = url.split("?")[0] ?? "";
  return path
    .split("/")
    .map((segment) => (segment.length > 12 ? ":id" : segment))
    .join("/")
    .slice(0, 100);
}
