import "server-only";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { logger } from "@/lib/server/log";
import type { Feature } from "@/lib/server/feature";
import type { NodeContext } from "@/lib/server/context";
import { hasRuntime, provide } from "@/lib/server/runtime";
import { SIGNALING_PATH } from "@/sfu/protocol";
import { mintCallToken } from "@/sfu/token";
import { iceServersFor } from "./ice-servers";
import { LocalPlacement, RedisPlacement, type SfuPlacement, StaticPlacement } from "./placement";
import { proxyRequest, proxyUpgrade } from "./proxy";
import type { CallsService } from "./service";
import { SfuProcess } from "./sfu-process";

const log = logger("calls");

/** `/sfu/<nodeId>/socket.io/<rest>` → node id and the SFU-side path. */
const PROXIED_PATH = /^\/sfu\/([A-Za-z0-9_-]{1,64})\/socket\.io\/(.*)$/s;

/**
 * Calls on the web node (design: docs/sfu.md): starts its own SFU child process, or uses
 * external SFU nodes (SFU_URLS or the Redis registry); places rooms on nodes; mints call
 * tokens through the `calls` service; proxies each node's signaling on this origin at
 * `/sfu/<nodeId>/socket.io/`. UDP/TCP media goes straight to the SFU.
 */
export async function createCallsFeature(
  ctx: Pick<NodeContext, "env" | "secrets">,
): Promise<Feature> {
  const config = ctx.env;
  const secret = ctx.secrets.callTokenSecret;
  let placement: SfuPlacement;
  if (config.SFU_REGISTRY === "redis" && config.REDIS_URL) {
    placement = new RedisPlacement(config.REDIS_URL);
    log.info("using SFU nodes from the Redis registry");
  } else if (config.SFU_URLS.length > 0) {
    placement = new StaticPlacement(config.SFU_URLS);
    log.info("using external SFU nodes", { count: config.SFU_URLS.length });
  } else {
    const child = new SfuProcess({ callTokenSecret: secret, log });
    child.start();
    placement = new LocalPlacement(child);
  }

  const calls: CallsService = {
    placeRoom: (roomId) => placement.nodeFor(roomId),
    mint: (grant) => mintCallToken(secret, grant),
    iceServers: (userId) => iceServersFor(config, userId),
    iceTransportPolicy: config.CALL_ICE_TRANSPORT_POLICY,
  };
  if (hasRuntime()) provide("calls", calls);

  /** Resolves a proxied URL to its node, or undefined when it is not ours. */
  const route = (url: string | undefined) => {
    const match = url ? PROXIED_PATH.exec(url) : null;
    if (!match) return undefined;
    return { nodeId: match[1]!, path: `${SIGNALING_PATH}${match[2]!}` };
  };

  return {
    name: "calls",
    handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
      const target = route(req.url);
      if (!target) return false;
      void placement.node(target.nodeId).then(
        (node) => {
          if (node) proxyRequest(req, res, node.upstream, target.path);
          else notAvailable(res);
        },
        () => notAvailable(res),
      );
      return true;
    },
    handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
      const target = route(req.url);
      if (!target) return false;
      void placement.node(target.nodeId).then(
        (node) => {
          if (node) proxyUpgrade(req, socket, head, node.upstream, target.path);
          else socket.destroy();
        },
        () => socket.destroy(),
      );
      return true;
    },
    ready: () => placement.ready(),
    close: () => placement.close(),
  };
}

function notAvailable(res: ServerResponse): void {
  res.writeHead(503, { "content-type": "application/json" });
  res.end(JSON.stringify({ error: { code: "unavailable", message: "SFU node unavailable" } }));
}
