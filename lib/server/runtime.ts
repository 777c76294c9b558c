import "server-only";
import type { Server as SocketServer } from "socket.io";
import type { Database } from "@/lib/db/client";

/**
 * What the web node's process shares between server.ts and the code Next.js bundles.
 *
 * Next compiles route handlers and server components into its own module graph, so a
 * module-level singleton imported by server.ts and by a route handler would be two
 * different objects (and PGlite lets only one instance own a data directory). server.ts
 * therefore builds these once and publishes them on globalThis; everything else reads
 * them through `runtime()`.
 */
export interface Runtime {
  database: Database;
  io: SocketServer;
  /** Readiness of the parts /api/health reports; each feature registers its own check. */
  readiness: Map<string, () => Promise<boolean> | boolean>;
  /** Per-feature services that route handlers need (e.g. the SFU placement, file storage). */
  services: Map<string, unknown>;
}

const KEY = Symbol.for("parley.runtime");
type Holder = { [KEY]?: Runtime };

export function setRuntime(value: Runtime): void {
  (globalThis as Holder)[KEY] = value;
}

export function runtime(): Runtime {
  const value = (globalThis as Holder)[KEY];
  if (!value) {
    throw new Error("Parley's runtime is not initialised: start the app through server.ts");
  }
  return value;
}

export function hasRuntime(): boolean {
  return (globalThis as Holder)[KEY] !== undefined;
}

/** The shared database handle. */
export function db() {
  return runtime().database.db;
}

/** Typed access to a feature's service registered by server.ts. */
export function service<T>(name: string): T {
  const value = runtime().services.get(name);
  if (value === undefined) throw new Error(`Service ${name} is not registered`);
  return value as T;
}
