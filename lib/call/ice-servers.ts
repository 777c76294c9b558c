import "server-only";
import { createHmac } from "node:crypto";
import type { CallConfig } from "./config";

/** An RTCIceServer as browsers take it. */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/**
 * STUN and TURN servers for one user. TURN credentials follow the TURN REST API scheme
 * (coturn's `use-auth-secret`): username `<expiry>:<userId>`, password
 * base64(HMAC-SHA1(secret, username)), so the TURN server checks them without a database
 * and they stop working at `expiry`.
 */
export function iceServersFor(config: CallConfig, userId: string, nowMs = Date.now()): IceServer[] {
  const servers: IceServer[] = [];
  if (config.CALL_STUN_URLS.length > 0) servers.push({ urls: config.CALL_STUN_URLS });
  if (config.CALL_TURN_URLS.length > 0 && config.CALL_TURN_SECRET) {
    const expiry = Math.floor(nowMs / 1000) + config.CALL_TURN_TTL_S;
    const username = `${expiry}:${userId}`;
    const credential = createHmac("sha1", config.CALL_TURN_SECRET)
      .update(username)
      .digest("base64");
    servers.push({ urls: config.CALL_TURN_URLS, username, credential });
  }
  return servers;
}
