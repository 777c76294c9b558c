import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import { performance } from "node:perf_hooks";

/**
 * The main-thread stall watchdog, for the web node and the SFU alike (it imports nothing
 * but `node:` modules, so the SFU may use it). A timer ticks every INTERVAL_MS; when a tick
 * comes more than the threshold (200 ms) late, something held the event loop that long,
 * and a `stalled` line is logged with what the process was doing: the activities noted
 * during the stall and the last one before it.
 *
 * Activities are noted by the code that starts work (`noteActivity`): HTTP requests are
 * noted here, from Node's `http.server.request.start` diagnostics channel; the web node
 * notes each socket command as it arrives. The record lives on globalThis, because Next's
 * route handlers run in another module graph than server.ts (docs/architecture.md).
 */
const INTERVAL_MS = 50;
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
  /** The longest delay any tick saw, stall or not. */
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
    worst = Math.max(worst, delay);
    if (delay <= threshold) return;
    const stall = describe(Math.round(delay), windowStart, now);
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
