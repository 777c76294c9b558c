/**
 * The SFU node's configuration, parsed once from the environment by sfu/main.ts with the
 * web node's conventions (lib/config/settings.ts: `FOO=` is unset, one error naming every
 * bad variable). Every variable is documented in docs/sfu.md ("Settings").
 */
import { availableParallelism } from "node:os";
import { z } from "zod";
import {
  bool,
  integer,
  ipAddress as ip,
  logLevel,
  parseSettings,
  port,
  type SettingsSource,
} from "../lib/config/settings";
import { Id } from "./protocol";

const schema = z
  .object({
    /** Signaling (Socket.IO + /stats) listen address and port. Port 0 = any free port. */
    SFU_HOST: z.string().min(1).default("0.0.0.0"),
    SFU_PORT: port.default(4000),
    /** Address media sockets bind to; unset = every interface's address (werift's default). */
    SFU_MEDIA_IP: ip.optional(),
    /** Public address written into ICE candidates in place of the bound one (1:1 NAT). */
    SFU_ANNOUNCED_IP: ip.optional(),
    /** UDP (and ICE-TCP) port range for media; two ports per participant and interface. */
    SFU_RTC_MIN_PORT: integer(1024, 65535).default(40000),
    SFU_RTC_MAX_PORT: integer(1024, 65535).default(49999),
    /** Offer passive ICE-TCP candidates (for networks that block UDP). */
    SFU_ICE_TCP: bool.default(true),
    /** HS256 secret shared with the web nodes. */
    CALL_TOKEN_SECRET: z.string().min(32, "CALL_TOKEN_SECRET must be at least 32 characters"),
    /** How long a connected socket may take to join, and a joined peer to connect media. */
    SFU_JOIN_TIMEOUT_MS: integer(100).default(10_000),
    /** How long the SFU waits for a subscribe answer before giving up on the peer. */
    SFU_ANSWER_TIMEOUT_MS: integer(100).default(15_000),
    /** How long a negotiated media connection may take to connect before the peer is dropped. */
    SFU_CONNECT_TIMEOUT_MS: integer(100).default(20_000),
    SFU_MAX_PEERS_PER_ROOM: integer(1).default(100),
    /** Origins allowed to open the signaling socket directly (not through the web node). */
    SFU_ALLOWED_ORIGINS: z.string().default("*"),
    /** Registry: with REDIS_URL the node announces itself so web nodes can place rooms on it. */
    REDIS_URL: z.url().optional(),
    SFU_NODE_ID: Id.optional(),
    /** Where web nodes reach this node's signaling (http://host:port), for the registry. */
    SFU_SIGNALING_URL: z.url().optional(),
    /**
     * Forward with the SFU's own SRTP (sfu/srtp/fast-transport.ts). `off` keeps werift's own
     * sender and SRTP: the benchmark's same-machine baseline (bench/sfu.ts), not for production.
     */
    SFU_FAST_SRTP: bool.default(true),
    /**
     * Media workers (worker threads, one event loop each: sfu/workers.ts). Default: one per
     * core the process may use.
     */
    SFU_WORKERS: integer(1, 64).default(availableParallelism()),
    /**
     * How many participants of one room a worker takes before the room spreads to another
     * worker (each published track is then piped once to every other worker of the room).
     */
    SFU_ROOM_PEERS_PER_WORKER: integer(1).default(25),
    /**
     * Tests only: `POST /debug/crash-worker?index=N` (loopback) makes worker N throw, to
     * prove a worker's crash costs only its own calls. Never set in production.
     */
    SFU_DEBUG_CRASH: bool.default(false),
    LOG_LEVEL: logLevel,
  })
  .refine((c) => c.SFU_RTC_MIN_PORT < c.SFU_RTC_MAX_PORT, {
    message: "SFU_RTC_MIN_PORT must be below SFU_RTC_MAX_PORT",
    path: ["SFU_RTC_MIN_PORT"],
  })
  .refine((c) => (c.SFU_RTC_MAX_PORT - c.SFU_RTC_MIN_PORT + 1) / c.SFU_WORKERS >= 8, {
    message: "the RTC port range must give every worker (SFU_WORKERS) at least 8 ports",
    path: ["SFU_WORKERS"],
  });

export type SfuConfig = z.infer<typeof schema>;

/** Parses the environment; throws one readable error naming every bad variable. */
/**
 * The part of the RTC port range worker `index` of `count` binds in: the range is split
 * evenly, so workers never race each other for a port (werift probes, then binds).
 */
export function workerPortRange(config: SfuConfig, index: number, count: number): [number, number] {
  const span = Math.floor((config.SFU_RTC_MAX_PORT - config.SFU_RTC_MIN_PORT + 1) / count);
  const min = config.SFU_RTC_MIN_PORT + index * span;
  return [min, index === count - 1 ? config.SFU_RTC_MAX_PORT : min + span - 1];
}

export function loadConfig(source: SettingsSource = process.env): SfuConfig {
  return parseSettings(schema, source, "SFU configuration");
}
