import "server-only";
import { LOG_LEVELS as levels, type LogLevel as Level } from "@/lib/config/settings";

/**
 * The least severe level written: LOG_LEVEL, set once by server.ts from the parsed
 * configuration (info until then). Kept on globalThis so the code Next bundles, which has
 * its own copy of this module, logs at the same level.
 */
const KEY = Symbol.for("parley.logLevel");
type Holder = { [KEY]?: number };

export function setLogLevel(level: Level): void {
  (globalThis as Holder)[KEY] = levels[level];
}

function threshold(): number {
  return (globalThis as Holder)[KEY] ?? levels.info;
}

/** A line-per-event logger: `[scope] message {json}`. Quiet enough to leave on. */
export function logger(scope: string) {
  const write = (level: Level, message: string, fields?: Record<string, unknown>) => {
    if (levels[level] < threshold()) return;
    const line = `[${scope}] ${message}${fields ? " " + JSON.stringify(fields) : ""}`;
    if (level === "error") console.error(line);
    else if (level === "warn") console.warn(line);
    else console.info(line);
  };
  return {
    debug: (m: string, f?: Record<string, unknown>) => write("debug", m, f),
    info: (m: string, f?: Record<string, unknown>) => write("info", m, f),
    warn: (m: string, f?: Record<string, unknown>) => write("warn", m, f),
    error: (m: string, f?: Record<string, unknown>) => write("error", m, f),
  };
}
export type Logger = ReturnType<typeof logger>;
