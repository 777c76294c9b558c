import "server-only";
import { z } from "zod";

/**
 * The web node's call settings, parsed once from the environment (the SFU process has its
 * own: sfu/config.ts). Documented in docs/sfu.md ("Settings").
 */
const list = z
  .string()
  .default("")
  .transform((s) =>
    s
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean),
  );

const schema = z.object({
  /**
   * External SFU nodes (http://host:port of their signaling), comma separated. Unset: the
   * web node starts its own SFU as a child process (the one-command default).
   */
  SFU_URLS: list.pipe(z.array(z.string().url())),
  /** `redis`: find SFU nodes in the Redis registry (needs REDIS_URL) instead. */
  SFU_REGISTRY: z.enum(["none", "redis"]).default("none"),
  REDIS_URL: z.string().url().optional(),
  /** STUN servers handed to browsers, e.g. `stun:stun.example.org:3478`. */
  CALL_STUN_URLS: list,
  /** TURN servers handed to browsers, e.g. `turn:turn.example.org:3478?transport=udp`. */
  CALL_TURN_URLS: list,
  /** Shared secret of the TURN server's REST API (coturn `static-auth-secret`). */
  CALL_TURN_SECRET: z.string().min(16).optional(),
  /** Lifetime of the TURN credentials handed out. */
  CALL_TURN_TTL_S: z.coerce.number().int().min(60).max(86_400).default(3_600),
  /**
   * The browsers' `iceTransportPolicy`: `relay` sends all media through the TURN servers
   * (for deployments that must not expose participants' addresses to the SFU, or whose
   * firewalls only let the TURN server through); `all` also tries direct paths first.
   */
  CALL_ICE_TRANSPORT_POLICY: z.enum(["all", "relay"]).default("all"),
});

export type CallConfig = z.infer<typeof schema>;

export function callConfig(source: Record<string, string | undefined> = process.env): CallConfig {
  const present = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ""));
  const result = schema.safeParse(present);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid call configuration:\n${lines.join("\n")}`);
  }
  if (result.data.SFU_REGISTRY === "redis" && !result.data.REDIS_URL) {
    throw new Error("Invalid call configuration:\n  SFU_REGISTRY=redis needs REDIS_URL");
  }
  if (result.data.CALL_TURN_URLS.length > 0 && !result.data.CALL_TURN_SECRET) {
    throw new Error("Invalid call configuration:\n  CALL_TURN_URLS needs CALL_TURN_SECRET");
  }
  if (
    result.data.CALL_ICE_TRANSPORT_POLICY === "relay" &&
    result.data.CALL_TURN_URLS.length === 0
  ) {
    throw new Error(
      "Invalid call configuration:\n  CALL_ICE_TRANSPORT_POLICY=relay needs CALL_TURN_URLS (media can only go through TURN)",
    );
  }
  return result.data;
}
