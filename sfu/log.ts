/**
 * The SFU's line-per-event logger: `[sfu:scope] message {json}` on stderr/stdout. The SFU
 * is its own process and imports nothing server-only from lib/, hence its own small copy;
 * the levels are the shared ones (lib/config/settings.ts).
 */
import { LOG_LEVELS as levels, type LogLevel as Level } from "../lib/config/settings";

/** LOG_LEVEL, set once by sfu/main.ts from the parsed configuration; info until then. */
let threshold: number = levels.info;

export function setLogLevel(level: Level): void {
  threshold = levels[level];
}

export function logger(scope: string) {
  const write = (level: Level, message: string, fields?: Record<string, unknown>) => {
    if (levels[level] < threshold) return;
    const line = `[sfu:${scope}] ${message}${fields ? " " + JSON.stringify(fields) : ""}`;
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
