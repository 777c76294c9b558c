import "server-only";
import type { Server as SocketServer } from "socket.io";
import type { AuthLimits } from "@/lib/auth/limits";
import type { CallsService } from "@/lib/call/service";
import type { MessageDeletedHook } from "@/lib/chat/hooks";
import type { Database } from "@/lib/db/client";
import type { Env } from "@/lib/env";
import type { Files } from "@/lib/files/service";
import type { RateLimit } from "./rate-limit";
import type { Secrets } from "./secrets";
import type { TlsStatus } from "./tls/web";

/**
 * What the web node's process shares between server.ts and the code Next.js bundles.
 *
 * Next compiles route handlers and server components into its own module graph, so a
 * module-level singleton imported by server.ts and by a route handler would be two
 * different objects (and PGlite lets only one instance own a data directory). server.ts
 * therefore builds these once and publishes them on globalThis; everything else reads
 * them through `runtime()` and `service()`.
 *
 * Only plain data and functions cross this boundary, never a class to test with
 * `instanceof`: each graph has its own copy of every class. Failures carry a `code`
 * (lib/errors.ts) and are recognised by it.
 */
export interface Runtime {
  /** The configuration server.ts parsed at start (lib/env.ts); nothing parses it again. */
  config: Env;
  /** The secrets in use: configured, or generated into DATA_DIR (lib/server/secrets.ts). */
  secrets: Secrets;
  database: Database;
  io: SocketServer;
  /** Readiness of the parts /api/health reports; each feature registers its own check. */
  readiness: Map<string, () => Promise<boolean> | boolean>;
  /** Per-feature services that route handlers need, each registered by its feature. */
  services: Partial<Services>;
}

/** The features' services, by name. */
export interface Services {
  /** Sign-in, sign-up and guest limits (lib/auth/limits.ts), built by server.ts. */
  authLimits: AuthLimits;
  /** SFU placement and call tokens (lib/call/node.ts). */
  calls: CallsService;
  /** File storage, keys and transfers (lib/files/node.ts). */
  files: Files;
  /** The serving certificate and its renewal, for /api/health (lib/server/tls/web.ts). */
  tls: () => TlsStatus;
  /** Searches per user (lib/search/limits.ts), built by server.ts. */
  searchLimit: RateLimit;
  /** What runs after a chat message is deleted (lib/chat/hooks.ts). */
  messageDeletedHooks: MessageDeletedHook[];
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

/** A feature's service; a missing one is a bug in start-up (the feature did not register it). */
export function service<K extends keyof Services>(name: K): Services[K] {
  const value = runtime().services[name];
  if (value === undefined) throw new Error(`Service ${name} is not registered`);
  return value;
}

/** Registers a feature's service (server.ts and the features it starts). */
export function provide<K extends keyof Services>(name: K, value: Services[K]): void {
  runtime().services[name] = value;
}
