/**
 * A standalone SFU node announces itself in Redis (REGISTRY in protocol.ts) with a
 * heartbeat carrying its load, so web nodes can place rooms on live nodes. Without
 * REDIS_URL (the one-command default, where the web node starts the SFU itself) nothing
 * is registered.
 */
import { Redis } from "ioredis";
import { logger } from "./log";
import { REGISTRY, type SfuNodeRecord } from "./protocol";

const log = logger("registry");

export interface Registration {
  close(): Promise<void>;
}

export function register(options: {
  redisUrl: string;
  nodeId: string;
  signalingUrl: string;
  /** The node's load now (participants and rooms), for the heartbeat. */
  load: () => { peers: number; rooms: number };
}): Registration {
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 2, lazyConnect: false });
  redis.on("error", (err: Error) => log.warn("redis error", { err: err.message }));
  const beat = async () => {
    const stats = options.load();
    const record: SfuNodeRecord = {
      id: options.nodeId,
      url: options.signalingUrl,
      peers: stats.peers,
      rooms: stats.rooms,
      heartbeatAt: Date.now(),
    };
    await redis.hset(REGISTRY.nodesKey, options.nodeId, JSON.stringify(record));
  };
  const timer = setInterval(() => void beat().catch(() => {}), REGISTRY.heartbeatMs);
  timer.unref();
  void beat()
    .then(() => log.info("registered", { nodeId: options.nodeId, url: options.signalingUrl }))
    .catch((err: unknown) => log.warn("first heartbeat failed", { err: String(err) }));
  return {
    async close() {
      clearInterval(timer);
      await redis.hdel(REGISTRY.nodesKey, options.nodeId).catch(() => {});
      redis.disconnect();
    },
  };
}
