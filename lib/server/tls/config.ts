import { z } from "zod";
import { describeIssues, list, port } from "@/lib/config/settings";

/**
 * HTTPS settings (issue 11): one part of the configuration lib/env.ts composes, with its
 * checks across variables (`checkTlsEnv`) in the composed schema. Which mode runs follows from what is set unless TLS_MODE says it outright:
 *
 * - `files`: TLS_CERT_FILE and TLS_KEY_FILE are set (bring your own; reloaded on change);
 * - `proxy`: TRUSTED_PROXIES is set (a reverse proxy in front terminates TLS);
 * - `acme`: PUBLIC_URL is https:// (Parley obtains and renews a certificate itself);
 * - `off`: otherwise (plain HTTP on PORT, as before).
 *
 * `self-signed` is only ever chosen explicitly. README.md "HTTPS" is the user's guide.
 */

/** Let's Encrypt's production directory. */
export const LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory";

export const TLS_MODES = ["acme", "files", "self-signed", "proxy", "off"] as const;
export type TlsMode = (typeof TLS_MODES)[number];

export const CHALLENGES = ["http-01", "tls-alpn-01"] as const;
export type Challenge = (typeof CHALLENGES)[number];

const UNITS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** "90" or "90s", "45m", "12h", "30d": seconds. */
const duration = z
  .string()
  .regex(/^\d+[smhd]?$/, "a duration such as 30d, 12h, 45m or 90s")
  .transform((s) => {
    const unit = /[smhd]$/.test(s) ? (s.at(-1) as keyof typeof UNITS) : "s";
    return Number.parseInt(s, 10) * UNITS[unit];
  });

export const tlsEnv = z.object({
  TLS_MODE: z.enum(TLS_MODES).optional(),
  /** The HTTPS port; default PUBLIC_URL's port, else 443. Unused without TLS (PORT is). */
  HTTPS_PORT: port.optional(),
  /** The plain HTTP port that redirects to HTTPS and answers HTTP-01; `off` for none. */
  HTTP_PORT: z.union([z.literal("off"), port]).default(80),
  TLS_CERT_FILE: z.string().optional(),
  TLS_KEY_FILE: z.string().optional(),
  /** More names or addresses for the self-signed certificate, comma separated. */
  TLS_NAMES: list,
  /** Any RFC 8555 directory; Let's Encrypt's production one by default. */
  ACME_DIRECTORY_URL: z.url().default(LETS_ENCRYPT),
  /** Where the CA may write about expiry or problems; optional. */
  ACME_EMAIL: z.email().optional(),
  /** Challenge types to offer, preferred first. */
  ACME_CHALLENGES: z
    .string()
    .default(CHALLENGES.join(","))
    .transform((s) => s.split(",").map((c) => c.trim()))
    .pipe(z.array(z.enum(CHALLENGES)).min(1)),
  /** Renew this long before expiry; default a third of the certificate's lifetime. */
  ACME_RENEW_BEFORE: duration.optional(),
  /** Strict-Transport-Security max-age once a trusted certificate serves; 0 sends none. */
  HSTS_MAX_AGE_S: z.coerce.number().int().min(0).default(31_536_000),
});

export type TlsEnv = z.output<typeof tlsEnv>;

/** What the rest of the app's configuration contributes (lib/env.ts). */
export interface TlsContext {
  PUBLIC_URL?: string;
  PORT: number;
  TRUSTED_PROXIES: string[];
}

interface Ports {
  httpsPort: number;
  /** null: no plain HTTP listener. */
  httpPort: number | null;
  /** The origin redirects lead to, when it is fixed (PUBLIC_URL); else the request's host. */
  publicOrigin: string | null;
  hstsMaxAgeS: number;
}

export type TlsPlan =
  | { mode: "off"; port: number }
  | { mode: "proxy"; port: number }
  | ({ mode: "files"; certFile: string; keyFile: string } & Ports)
  | ({ mode: "self-signed"; extraNames: string[] } & Ports)
  | ({
      mode: "acme";
      /** The names the certificate is for (PUBLIC_URL's host). */
      names: string[];
      directoryUrl: string;
      email?: string;
      challenges: Challenge[];
      renewBeforeS?: number;
    } & Ports);

/** A setting that does not fit the others: the variable to name, and why. */
interface Problem {
  path: [keyof TlsEnv | keyof TlsContext];
  message: string;
}

/** The TLS settings' checks across variables, in the composed schema (lib/env.ts). */
export function checkTlsEnv(config: TlsEnv & TlsContext, ctx: z.RefinementCtx): void {
  const problems: Problem[] = [];
  resolve(config, problems);
  for (const problem of problems) ctx.addIssue({ code: "custom", ...problem });
}

/** What serves, from the parsed configuration (which checkTlsEnv has already checked). */
export function tlsPlan(config: TlsEnv & TlsContext): TlsPlan {
  const problems: Problem[] = [];
  const plan = resolve(config, problems);
  if (problems.length) {
    throw new Error(describeIssues("configuration", problems));
  }
  return plan;
}

function resolve(e: TlsEnv & TlsContext, problems: Problem[]): TlsPlan {
  const problem = (path: Problem["path"][0], message: string) =>
    problems.push({ path: [path], message });
  const publicUrl = e.PUBLIC_URL ? new URL(e.PUBLIC_URL) : null;
  const httpsPublic = publicUrl?.protocol === "https:";
  if ((e.TLS_CERT_FILE === undefined) !== (e.TLS_KEY_FILE === undefined))
    problem("TLS_CERT_FILE", "TLS_CERT_FILE and TLS_KEY_FILE: set both or neither");
  const mode: TlsMode =
    e.TLS_MODE ??
    (e.TLS_CERT_FILE && e.TLS_KEY_FILE
      ? "files"
      : e.TRUSTED_PROXIES.length
        ? "proxy"
        : httpsPublic
          ? "acme"
          : "off");

  if (mode === "off") return { mode, port: e.PORT };
  if (mode === "proxy") {
    if (!e.TRUSTED_PROXIES.length)
      problem("TRUSTED_PROXIES", "TLS_MODE=proxy: set TRUSTED_PROXIES to the proxy's addresses");
    return { mode, port: e.PORT };
  }
  if (publicUrl && !httpsPublic)
    problem("PUBLIC_URL", `TLS_MODE=${mode}: PUBLIC_URL must be https://`);
  const ports: Ports = {
    httpsPort: e.HTTPS_PORT ?? (publicUrl?.port ? Number(publicUrl.port) : 443),
    httpPort: e.HTTP_PORT === "off" ? null : e.HTTP_PORT,
    publicOrigin: httpsPublic ? publicUrl.origin : null,
    // A certificate nobody trusts must stay skippable in the browser: no HSTS for it.
    hstsMaxAgeS: mode === "self-signed" ? 0 : e.HSTS_MAX_AGE_S,
  };
  if (ports.httpPort !== null && ports.httpPort === ports.httpsPort && ports.httpsPort !== 0)
    problem("HTTP_PORT", `HTTP_PORT and HTTPS_PORT are both ${ports.httpsPort}`);

  if (mode === "files") {
    if (!e.TLS_CERT_FILE || !e.TLS_KEY_FILE) {
      problem("TLS_MODE", "TLS_MODE=files: set TLS_CERT_FILE and TLS_KEY_FILE");
      return { mode, certFile: "", keyFile: "", ...ports };
    }
    return { mode, certFile: e.TLS_CERT_FILE, keyFile: e.TLS_KEY_FILE, ...ports };
  }
  if (mode === "self-signed") return { mode, extraNames: e.TLS_NAMES, ...ports };

  if (!httpsPublic) {
    problem("PUBLIC_URL", "TLS_MODE=acme: set PUBLIC_URL=https://<your domain>");
    return { mode, names: [], directoryUrl: "", challenges: [], ...ports };
  }
  const host = publicUrl.hostname;
  if (!/[a-z]/i.test(host) || host.startsWith("["))
    problem("PUBLIC_URL", `ACME certificates are for domain names, not addresses (${host})`);
  if (e.ACME_CHALLENGES.includes("http-01") && e.ACME_CHALLENGES.length === 1 && !ports.httpPort)
    problem("ACME_CHALLENGES", "ACME_CHALLENGES=http-01 needs HTTP_PORT");
  return {
    mode,
    names: [host],
    directoryUrl: e.ACME_DIRECTORY_URL,
    email: e.ACME_EMAIL,
    challenges: e.ACME_CHALLENGES,
    renewBeforeS: e.ACME_RENEW_BEFORE,
    ...ports,
  };
}
