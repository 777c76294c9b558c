import { isIP } from "node:net";
import { z } from "zod";
import { list, logLevel, port } from "@/lib/config/settings";

/**
 * The web node's own settings (one part of the configuration lib/env.ts composes): where it
 * listens, where it keeps things, which services it uses, whom it trusts.
 */
export const serverEnv = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: port.default(3000),
  HOST: z.string().default("0.0.0.0"),
  /** Where everything the app keeps lives: embedded database, files, generated secrets. */
  DATA_DIR: z.string().default(".data"),
  /** node-postgres connection string; unset means embedded PGlite under DATA_DIR. */
  DATABASE_URL: z.url().optional(),
  /** Redis for the Socket.IO adapter, rate limits and the SFU registry; unset means in-process. */
  REDIS_URL: z.url().optional(),
  /** The public origin (scheme://host[:port]); defaults to the request's own host. */
  PUBLIC_URL: z.url().optional(),
  /** Extra origins allowed to open a socket or send API writes, comma separated. */
  ALLOWED_ORIGINS: list,
  /**
   * Proxies (addresses or CIDRs, comma separated) whose X-Forwarded-For / Forwarded headers
   * name the client. From anyone else those headers are ignored and the socket's address is
   * the client's (lib/server/client-address.ts).
   */
  TRUSTED_PROXIES: list.superRefine((entries, ctx) => {
    for (const entry of entries) {
      if (!isAddressOrCidr(entry)) {
        ctx.addIssue({ code: "custom", message: `${entry} is not an IP address or CIDR` });
      }
    }
  }),
  LOG_LEVEL: logLevel,
});

function isAddressOrCidr(entry: string): boolean {
  const [address = "", prefix, ...rest] = entry.split("/");
  const family = isIP(address);
  if (!family || rest.length) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}
