import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { round } from "../stats";

/**
 * Where the web node's CPU went during one measurement window, from the `.cpuprofile` that
 * `node --cpu-prof` writes at exit. Samples are cut to the window by their timestamps (V8's
 * clock is CLOCK_MONOTONIC in µs on Linux, the same as process.hrtime), then grouped by
 * package / file ("where") and by function, self time and inclusive time.
 */

const profileSchema = z.object({
  nodes: z.array(
    z.object({
      id: z.number(),
      callFrame: z.object({ functionName: z.string(), url: z.string(), lineNumber: z.number() }),
      children: z.array(z.number()).optional(),
    }),
  ),
  startTime: z.number(),
  samples: z.array(z.number()),
  timeDeltas: z.array(z.number()),
});

type Frame = z.infer<typeof profileSchema>["nodes"][number]["callFrame"];

/** The newest profile in dir written by pid (file names are CPU.<date>.<time>.<pid>.<tid>.<seq>). */
export function findProfile(dir: string, pid: number): string | null {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile") && f.split(".")[3] === String(pid))
    .map((f) => path.join(dir, f));
  files.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return files[0] ?? null;
}

/** Which part of the stack a frame belongs to: a package, a Node internal, our code, native. */
function whereOf(frame: Frame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName.startsWith("(")) return functionName;
    return `native ${functionName || "(anonymous)"}`;
  }
  if (url.startsWith("wasm://")) return "wasm (PGlite's Postgres)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const parts = url.slice(nm + "node_modules/".length).split("/");
    const pkg = parts[0]?.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
    return `pkg ${pkg}`;
  }
  if (url.startsWith("node:")) return url.split("/").slice(0, 2).join("/");
  const app = url.replace(/^file:\/\//, "").replace(`${process.cwd()}/`, "");
  if (app.includes(".next/")) return "next build output";
  return `app ${app}`;
}

/** Broad phases of the chat pipeline, by the package or file a frame belongs to. */
const PHASES: Array<[RegExp, string]> = [
  [
    /^wasm|pkg @electric-sql\/pglite|pkg (pg|pg-protocol|pg-pool|pg-types|postgres-array)$|pkg drizzle-orm|^app lib\/db\//,
    "database (driver, Drizzle, PGlite engine)",
  ],
  [
    /pkg (socket\.io|socket\.io-parser|socket\.io-adapter|engine\.io|engine\.io-parser|ws)$|^node:(net|internal\/stream_base_commons|internal\/streams|buffer)/,
    "Socket.IO / WebSocket / sockets",
  ],
  [/pkg zod$/, "validation (zod)"],
  [/pkg (jose|next-auth)$|^app lib\/auth\//, "auth (session, JWT)"],
  [/pkg rate-limiter-flexible$/, "rate limit"],
  [/pkg next$|next build output/, "Next.js"],
  [/^app /, "app code (lib/, server.ts)"],
  [/^\(garbage collector\)$/, "garbage collector"],
];

function phaseOf(where: string): string {
  for (const [pattern, phase] of PHASES) if (pattern.test(where)) return phase;
  return "other (Node internals, task queues, unattributed)";
}

function keyOf(frame: Frame): string {
  const where = whereOf(frame);
  return `${frame.functionName || "(anonymous)"} — ${where}${frame.url ? `:${frame.lineNumber + 1}` : ""}`;
}

export function summarizeProfile(file: string, window: [bigint, bigint], top = 20) {
  const profile = profileSchema.parse(JSON.parse(readFileSync(file, "utf8")));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ownerOf = (id: number) => {
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame;
      if (frame.functionName === "(garbage collector)" || frame.functionName === "(program)") break;
      if (frame.url && !frame.url.startsWith("node:")) return byId.get(at)!;
    }
    return byId.get(id)!;
  };
  const fromUs = Number(window[0] / 1000n);
  const toUs = Number(window[1] / 1000n);

  const self = new Map<string, number>();
  const where = new Map<string, number>();
  const phase = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const node = byId.get(profile.samples[i]!);
    if (!node) continue;
    total += 1;
    if (node.callFrame.functionName === "(idle)") {
      idle += 1;
      continue;
    }
    const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
    add(self, keyOf(node.callFrame));
    add(where, whereOf(node.callFrame));
    // A native function (JSON.stringify, a socket write) and Node's own stream code belong
    // to the phase of the nearest package or app frame above them: a writev under pg is a
    // database write, one under ws a delivery.
    add(phase, phaseOf(whereOf(ownerOf(node.id).callFrame)));
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)!.callFrame;
      if (frame.functionName === "(root)") break;
      const key = keyOf(frame);
      if (!seen.has(key)) {
        seen.add(key);
        add(inclusive, key);
      }
    }
  }
  const busy = total - idle;
  const list = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, n]) => ({ name, percent_of_busy: round((n / Math.max(1, busy)) * 100, 1) }));
  return {
    file,
    samples_in_window: total,
    busy_percent_of_samples: round((busy / Math.max(1, total)) * 100, 1),
    self_by_phase: list(phase),
    self_by_where: list(where),
    self_by_function: list(self),
    inclusive_by_function: list(inclusive),
  };
}
