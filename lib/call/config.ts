import { z } from "zod";
import { integer, list } from "@/lib/config/settings";

/**
 * The web node's call settings (one part of the configuration lib/env.ts composes; the SFU
 * process has its own: sfu/config.ts). Documented in docs/sfu.md ("Settings").
 */
export const callEnv = z.object({
  /** HS256 secret for call tokens, shared with the SFU; unset: generated into DATA_DIR. */
  CALL_TOKEN_SECRET: z.string().min(32).optional(),
  /**
   * External SFU nodes (http://host:port of their signaling), comma separated. Unset: the
   * web node starts its own SFU as a child process (the one-command default).
   */
  SFU_URLS: list.pipe(z.array(z.url())),
  /** `redis`: find SFU nodes in the Redis registry (needs REDIS_URL) instead. */
  SFU_REGISTRY: z.enum(["none", "redis"]).default("none"),
  /** STUN servers handed to browsers, e.g. `stun:stun.example.org:3478`. */
  CALL_STUN_URLS: list,
  /** TURN servers handed to browsers, e.g. `turn:turn.example.org:3478?transport=udp`. */
  CALL_TURN_URLS: list,
  /** Shared secret of the TURN server's REST API (coturn `static-auth-secret`). */
  CALL_TURN_SECRET: z.string().min(16).optional(),
  /** Lifetime of the TURN credentials handed out. */
  CALL_TURN_TTL_S: integer(60, 86_400).default(3_600),
  /**
   * The browsers' `iceTransportPolicy`: `relay` sends all media through the TURN servers
   * (for deployments that must not expose participants' addresses to the SFU, or whose
   * firewalls only let the TURN server through); `all` also tries direct paths first.
   */
  CALL_ICE_TRANSPORT_POLICY: z.enum(["all", "relay"]).default("all"),
});

export type CallConfig = z.output<typeof callEnv>;

/** The call settings' checks across variables (REDIS_URL is the server part's). */
export function checkCallEnv(
  config: CallConfig & { REDIS_URL?: string },
  ctx: z.RefinementCtx,
): void {
  const issue = (path: keyof CallConfig, message: string) =>
    ctx.addIssue({ code: "custom", path: [path], message });
  if (config.SFU_REGISTRY === "redis" && !config.REDIS_URL) {
    issue("SFU_REGISTRY", "SFU_REGISTRY=redis needs REDIS_URL");
  }
  if (config.CALL_TURN_URLS.length > 0 && !config.CALL_TURN_SECRET) {
    issue("CALL_TURN_URLS", "CALL_TURN_URLS needs CALL_TURN_SECRET");
  }
  if (config.CALL_ICE_TRANSPORT_POLICY === "relay" && config.CALL_TURN_URLS.length === 0) {
    issue(
      "CALL_ICE_TRANSPORT_POLICY",
      "CALL_ICE_TRANSPORT_POLICY=relay needs CALL_TURN_URLS (media can only go through TURN)",
    );
  }
}
