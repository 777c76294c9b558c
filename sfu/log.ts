/**
 * The SFU's line-per-event logger: `[sfu:scope] message {json}` on stderr/stdout. The SFU
 * is its own process and imports nothing server-only from lib/, hence its own small copy.
 */
const levels = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof levels;

function threshold(): number {
  const raw = process.env.LOG_LEVEL;
  return raw && raw in levels ? levels[raw as Level] : levels.info;
}

export function logger(scope: string) {
  const min = threshold();
  const write = (level: Level, message: string, fields?: Record<string, unknown>) => {
    if (levels[level] < min) return;
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
