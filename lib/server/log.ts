import "server-only";

const levels = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof levels;

function threshold(): number {
  const raw = process.env.LOG_LEVEL as Level | undefined;
  return levels[raw && raw in levels ? raw : "info"];
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
