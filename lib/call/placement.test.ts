import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REGISTRY, type SfuNodeRecord } from "@/sfu/protocol";
import { register } from "@/sfu/registration";
import { eventually } from "@/sfu/test/harness";
import { RedisPlacement, StaticPlacement } from "./placement";

// Each run starts its own redis-server (the registry's keys are fixed). Without one this
// suite is skipped on a laptop, but under CI=true it runs and fails.
const hasRedis = spawnSync("redis-server", ["--version"]).status === 0;

describe("static placement", () => {
  it("puts a room on the same node every time, spreading rooms over nodes", async () => {
    const placement = new StaticPlacement(["http://10.0.0.1:4000", "http://10.0.0.2:4000"]);
    const first = await placement.nodeFor("room-1");
    expect(await placement.nodeFor("room-1")).toEqual(first);
    const ids = new Set(
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => placement.nodeFor(`r${i}`).then((n) => n.id)),
      ),
    );
    expect(ids.size).toBe(2);
    expect(await placement.node(first.id)).toEqual(first);
  });
});

describe.skipIf(!hasRedis && process.env.CI !== "true")("Redis registry placement", () => {
  let server: ChildProcess;
  let url: string;
  let redis: Redis;

  beforeAll(async () => {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    server = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      {
        stdio: "ignore",
      },
    );
    url = `redis://127.0.0.1:${port}`;
    // ioredis keeps retrying until the server listens; a second connect() while it does
    // would only be refused ("already connecting"), so wait for the client to be ready.
    redis = new Redis(url, { retryStrategy: () => 50 });
    redis.on("error", () => {});
    await eventually(async () => redis.status === "ready", 20_000, "redis");
  });

  afterAll(async () => {
    redis?.disconnect();
    if (server?.pid) process.kill(server.pid, "SIGTERM");
  });

  const record = (id: string, peers: number, heartbeatAt = Date.now()): SfuNodeRecord => ({
    id,
    url: `http://127.0.0.1:${4000 + Number(id.slice(-1))}`,
    peers,
    rooms: 0,
    heartbeatAt,
  });

  it("places on the least-loaded live node, sticks, and moves off a dead node", async () => {
    await redis.hset(REGISTRY.nodesKey, "node-1", JSON.stringify(record("node-1", 5)));
    await redis.hset(REGISTRY.nodesKey, "node-2", JSON.stringify(record("node-2", 1)));
    await redis.hset(
      REGISTRY.nodesKey,
      "node-3",
      JSON.stringify(record("node-3", 0, Date.now() - 60_000)),
    );
    await redis.hset(REGISTRY.nodesKey, "junk", "not json");
    const placement = new RedisPlacement(url);
    expect(await placement.ready()).toBe(true);
    expect((await placement.nodeFor("room-a")).id).toBe("node-2");
    expect(await redis.get(REGISTRY.roomKey("room-a"))).toBe("node-2");

    // node-2 gets busy: the room stays where it is (sticky), a new room goes elsewhere.
    await redis.hset(REGISTRY.nodesKey, "node-2", JSON.stringify(record("node-2", 50)));
    const fresh = new RedisPlacement(url);
    expect((await fresh.nodeFor("room-a")).id).toBe("node-2");
    expect((await fresh.nodeFor("room-b")).id).toBe("node-1");

    // node-2 stops heartbeating: its rooms move.
    await redis.hset(
      REGISTRY.nodesKey,
      "node-2",
      JSON.stringify(record("node-2", 50, Date.now() - 60_000)),
    );
    const later = new RedisPlacement(url);
    expect((await later.nodeFor("room-a")).id).toBe("node-1");
    expect(await later.node("node-2")).toBeUndefined();
    await Promise.all([placement.close(), fresh.close(), later.close()]);
  });

  it("sees an SFU node that registers itself", async () => {
    const registration = register({
      redisUrl: url,
      nodeId: "node-9",
      signalingUrl: "http://127.0.0.1:4009",
      load: () => ({ rooms: 1, peers: 2 }),
    });
    const seen = async () => {
      // A fresh placement each time: its node list is cached for 2 s.
      const placement = new RedisPlacement(url);
      const node = await placement.node("node-9");
      await placement.close();
      return node?.upstream.port === 4009;
    };
    // The first heartbeat is immediate; the next ones come every 5 s should it fail.
    await eventually(seen, 15_000, "registration");
    await registration.close();
    expect(await redis.hget(REGISTRY.nodesKey, "node-9")).toBeNull();
  });
});
