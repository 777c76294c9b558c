import "server-only";
import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { AppError } from "@/lib/errors";
import { REGISTRY, SfuNodeRecord } from "@/sfu/protocol";
import type { Upstream } from "./proxy";
import type { SfuProcess } from "./sfu-process";

/**
 * Where a room's call runs. Three ways to find SFU nodes, one interface:
 * - the local child process (one-command default): one node, id `local`;
 * - a static list (SFU_URLS): a room goes to the node its id hashes to, so every web node
 *   agrees without shared state;
 * - the Redis registry (SFU_REGISTRY=redis): nodes heartbeat their load; a room is placed
 *   on the least-loaded live node, and the choice is kept in Redis (sticky) while it is alive.
 */
export interface SfuNode {
  id: string;
  upstream: Upstream;
}

export interface SfuPlacement {
  /** The node a room's call runs on; throws when no node is available. */
  nodeFor(roomId: string): Promise<SfuNode>;
  /** A node by id, for the signaling proxy; undefined when unknown or dead. */
  node(id: string): Promise<SfuNode | undefined>;
  ready(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * No node can take a call right now (none configured or alive, or the local child is
 * restarting). An AppError by code, so the route handler that asked answers 503 although
 * the placement was built by server.ts (lib/errors.ts says why that matters).
 */
export function noSfu(): AppError {
  return new AppError(
    "unavailable",
    "Calls are not available right now; try again in a few seconds",
  );
}

function upstreamOf(url: string): Upstream {
  const parsed = new URL(url);
  const tls = parsed.protocol === "https:";
  return { host: parsed.hostname, port: Number(parsed.port || (tls ? 443 : 80)), tls };
}

export class LocalPlacement implements SfuPlacement {
  constructor(private readonly child: SfuProcess) {}

  private current(): SfuNode | undefined {
    const port = this.child.port;
    return port === undefined ? undefined : { id: "local", upstream: { host: "127.0.0.1", port } };
  }

  async nodeFor(): Promise<SfuNode> {
    const node = this.current();
    if (!node) throw noSfu();
    return node;
  }

  async node(id: string): Promise<SfuNode | undefined> {
    return id === "local" ? this.current() : undefined;
  }

  async ready(): Promise<boolean> {
    return this.child.ready();
  }

  async close(): Promise<void> {
    await this.child.close();
  }
}

export class StaticPlacement implements SfuPlacement {
  private readonly nodes: SfuNode[];

  constructor(urls: string[]) {
    this.nodes = urls.map((url, index) => ({ id: `static-${index}`, upstream: upstreamOf(url) }));
  }

  async nodeFor(roomId: string): Promise<SfuNode> {
    if (this.nodes.length === 0) throw noSfu();
    const hash = createHash("sha256").update(roomId).digest().readUInt32BE(0);
    return this.nodes[hash % this.nodes.length]!;
  }

  async node(id: string): Promise<SfuNode | undefined> {
    return this.nodes.find((node) => node.id === id);
  }

  async ready(): Promise<boolean> {
    return this.nodes.length > 0;
  }

  async close(): Promise<void> {}
}

/** How long the proxy may reuse the node list instead of asking Redis again. */
const NODE_CACHE_MS = 2_000;

export class RedisPlacement implements SfuPlacement {
  private readonly redis: Redis;
  private cache: { at: number; nodes: SfuNodeRecord[] } | undefined;

  constructor(redisUrl: string) {
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
    this.redis.on("error", () => {});
  }

  /** Live nodes: a heartbeat within REGISTRY.staleAfterMs. */
  async liveNodes(now = Date.now()): Promise<SfuNodeRecord[]> {
    if (this.cache && now - this.cache.at < NODE_CACHE_MS) return this.cache.nodes;
    const raw = await this.redis.hgetall(REGISTRY.nodesKey);
    const nodes: SfuNodeRecord[] = [];
    for (const value of Object.values(raw)) {
      let json: unknown;
      try {
        json = JSON.parse(value);
      } catch {
        continue;
      }
      const parsed = SfuNodeRecord.safeParse(json);
      if (parsed.success && now - parsed.data.heartbeatAt < REGISTRY.staleAfterMs)
        nodes.push(parsed.data);
    }
    this.cache = { at: now, nodes };
    return nodes;
  }

  async nodeFor(roomId: string): Promise<SfuNode> {
    const nodes = await this.liveNodes();
    const key = REGISTRY.roomKey(roomId);
    const placed = await this.redis.get(key);
    const current = nodes.find((node) => node.id === placed);
    if (current) {
      await this.redis.expire(key, REGISTRY.placementTtlS);
      return toNode(current);
    }
    const least = [...nodes].sort((a, b) => a.peers - b.peers)[0];
    if (!least) throw noSfu();
    // Another web node may place the same room at the same moment: first writer wins,
    // unless what it wrote points at a dead node.
    const won = placed
      ? await this.redis.set(key, least.id, "EX", REGISTRY.placementTtlS)
      : await this.redis.set(key, least.id, "EX", REGISTRY.placementTtlS, "NX");
    if (won) return toNode(least);
    const winnerId = await this.redis.get(key);
    const winner = nodes.find((node) => node.id === winnerId);
    return toNode(winner ?? least);
  }

  async node(id: string): Promise<SfuNode | undefined> {
    const record = (await this.liveNodes()).find((node) => node.id === id);
    return record ? toNode(record) : undefined;
  }

  async ready(): Promise<boolean> {
    try {
      return (await this.liveNodes()).length > 0;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

function toNode(record: SfuNodeRecord): SfuNode {
  return { id: record.id, upstream: upstreamOf(record.url) };
}
