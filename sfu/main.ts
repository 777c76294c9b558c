/**
 * The SFU process: `npm run sfu` (standalone node) or started by the web node as a child
 * (lib/call/sfu-process.ts). Configuration: environment, see sfu/config.ts and docs/sfu.md.
 *
 * As a child (an IPC channel exists) it reports `{ type: "ready", port }` once listening
 * and exits when its parent goes away, so it never outlives the web node.
 */
import { hostname } from "node:os";
import { startStallWatchdog } from "../lib/stall-watchdog";
import { loadConfig } from "./config";
import { tuneHeap } from "./heap";
import { logger, setLogLevel } from "./log";
import { register, type Registration } from "./registration";
import { Server } from "./server";

const log = logger("main");

async function main() {
  tuneHeap();
  const config = loadConfig();
  setLogLevel(config.LOG_LEVEL);
  // Each media worker checks werift's patches before it reports ready (sfu/worker.ts): a
  // patch that lost its target would fail silently mid-call. A failure rejects here.
  const server = await Server.create(config);
  const watchdogLog = logger("watchdog");
  startStallWatchdog({ log: (message, fields) => watchdogLog.warn(message, fields) });
  log.info(`SFU signaling listening on ${config.SFU_HOST}:${server.port}`, {
    mediaIp: config.SFU_MEDIA_IP ?? "all interfaces",
    announcedIp: config.SFU_ANNOUNCED_IP,
    ports: `${config.SFU_RTC_MIN_PORT}-${config.SFU_RTC_MAX_PORT}`,
    iceTcp: config.SFU_ICE_TCP,
  });

  let registration: Registration | undefined;
  if (config.REDIS_URL) {
    const nodeId =
      config.SFU_NODE_ID ?? `${hostname()}-${server.port}`.replace(/[^A-Za-z0-9_-]/g, "-");
    const signalingUrl = config.SFU_SIGNALING_URL ?? `http://${hostname()}:${server.port}`;
    registration = register({
      redisUrl: config.REDIS_URL,
      nodeId,
      signalingUrl,
      load: () => server.load(),
    });
  }

  process.send?.({ type: "ready", port: server.port });

  let stopping = false;
  const stop = async (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${why}: shutting down`);
    const force = setTimeout(() => process.exit(1), 5_000);
    force.unref();
    await registration?.close();
    await server.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop("SIGINT"));
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("disconnect", () => void stop("parent gone"));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
