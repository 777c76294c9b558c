/**
 * The conventions every settings schema follows, for the web node (lib/env.ts) and the SFU
 * process (sfu/config.ts) alike. Plain zod, no `server-only`: the SFU imports it too.
 *
 * - An empty variable (`FOO=`) means unset, as shells and .env files usually intend: it gets
 *   the default, or counts as missing where a value is required.
 * - A bad value anywhere stops the start with one error naming every bad variable.
 * - Checks across variables (A needs B) run once every variable parsed on its own.
 */
import { isIP } from "node:net";
import { z } from "zod";

/** Where settings come from: `process.env`, or what a test builds. */
export type SettingsSource = Record<string, string | undefined>;

/** Parses `source` with `schema`, or throws `Invalid <what>:` and one line per bad variable. */
export function parseSettings<S extends z.ZodType>(
  schema: S,
  source: SettingsSource,
  what: string,
): z.output<S> {
  const result = schema.safeParse(withoutEmpty(source));
  if (!result.success) throw new Error(describeIssues(what, result.error.issues));
  return result.data;
}

/** `Invalid <what>:` and a line per issue, named by its variable. */
export function describeIssues(
  what: string,
  issues: readonly { path: readonly PropertyKey[]; message: string }[],
): string {
  const lines = issues.map(
    (i) => `  ${i.path.map(String).join(".") || "(settings)"}: ${i.message}`,
  );
  return `Invalid ${what}:\n${lines.join("\n")}`;
}

/** The source without empty variables: `FOO=` is the same as no FOO. */
function withoutEmpty(source: SettingsSource): Record<string, string> {
  const present: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value !== undefined && value !== "") present[name] = value;
  }
  return present;
}

/** A comma-separated list; blanks around items and empty items are dropped. Unset: []. */
export const list = z
  .string()
  .default("")
  .transform((s) =>
    s
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean),
  );

/** A yes/no switch: 1/0, true/false, yes/no, on/off. */
export const bool = z
  .enum(["1", "0", "true", "false", "yes", "no", "on", "off"])
  .transform((v) => ["1", "true", "yes", "on"].includes(v));

/** A whole number from `min` up (`max` if given). */
export function integer(min: number, max?: number) {
  const n = z.coerce.number().int().min(min);
  return max === undefined ? n : n.max(max);
}

/** A TCP/UDP port; 0 asks for any free one. */
export const port = integer(0, 65535);

export const ipAddress = z.string().refine((s) => isIP(s) !== 0, "must be an IP address");

/** Log levels, least severe first; LOG_LEVEL names the least severe one written. */
export const LOG_LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
export type LogLevel = keyof typeof LOG_LEVELS;
export const logLevel = z.enum(["debug", "info", "warn", "error"]).default("info");
