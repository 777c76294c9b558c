import { z } from "zod";

/** `npm run bench:chat -- [flags]`; every flag is `--name` or `--name=value`. */
const flagsSchema = z
  .object({
    db: z.enum(["pglite", "postgres"]).default("pglite"),
    clients: z.coerce.number().int().min(2).max(20_000).optional(),
    rooms: z.coerce.number().int().min(1).max(5_000).optional(),
    rate: z.coerce.number().positive().max(200_000).optional(),
    window: z.coerce.number().positive().max(300).optional(),
    warmup: z.coerce.number().min(0).max(60).optional(),
    drain: z.coerce.number().min(0.5).max(60).optional(),
    /** Only the step-up search (no steady load); `--no-ramp`: only the steady load. */
    ramp: z.literal(true).optional(),
    "no-ramp": z.literal(true).optional(),
    quick: z.literal(true).optional(),
    /** parley, bare, or both (the default). */
    target: z.enum(["parley", "bare", "both"]).default("both"),
    /** Client worker processes. */
    workers: z.coerce.number().int().min(1).max(8).default(1),
    /** Ramp rates, comma separated. */
    steps: z
      .string()
      .regex(/^\d+(,\d+)*$/)
      .transform((s) => s.split(",").map(Number))
      .optional(),
    "ramp-window": z.coerce.number().positive().max(120).optional(),
    /** Characters in each message body (the event on the wire is ~450 bytes more). */
    body: z.coerce.number().int().min(40).max(4000).default(100),
    /** Profile each server during the steady load (node --cpu-prof); true or a directory. */
    profile: z.union([z.literal(true), z.string().min(1)]).optional(),
  })
  .strict();

export type Options = ReturnType<typeof parseOptions>;

// Low steps first: Parley's ceiling may be far below the bare server's, and a ramp that
// fails its first step says nothing. Failures are refined by bisection (bench/chat.ts).
const DEFAULT_STEPS = [
  100, 250, 500, 1000, 2000, 3000, 4000, 6000, 8000, 10_000, 12_000, 16_000, 20_000,
];
const QUICK_STEPS = [50, 100, 200];

export function parseOptions(argv: string[]) {
  const raw: Record<string, string | true> = {};
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match) throw new Error(`unknown argument ${arg} (flags look like --name or --name=value)`);
    raw[match[1]!] = match[2] ?? true;
  }
  const parsed = flagsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      parsed.error.issues.map((i) => `--${i.path.join(".") || "?"}: ${i.message}`).join("\n"),
    );
  }
  const f = parsed.data;
  const quick = f.quick === true;
  return {
    db: f.db,
    quick,
    clients: f.clients ?? (quick ? 40 : 2000),
    rooms: f.rooms ?? (quick ? 4 : 200),
    rate: f.rate ?? (quick ? 40 : 500),
    steady: {
      warmupS: f.warmup ?? (quick ? 1 : 3),
      windowS: f.window ?? (quick ? 3 : 15),
      drainS: f.drain ?? (quick ? 1 : 3),
      graceS: quick ? 5 : 30,
    },
    runSteady: f.ramp !== true,
    runRamp: f["no-ramp"] !== true,
    ramp: {
      steps: f.steps ?? (quick ? QUICK_STEPS : DEFAULT_STEPS),
      timing: {
        warmupS: quick ? 1 : 2,
        windowS: f["ramp-window"] ?? (quick ? 2 : 6),
        drainS: quick ? 1 : 3,
        graceS: quick ? 5 : 20,
      },
      maxP99Ms: 100,
    },
    targets: f.target === "both" ? (["parley", "bare"] as const) : ([f.target] as const),
    workers: f.workers,
    bodyChars: f.body,
    profile: f.profile,
    httpConcurrency: 8,
    connectConcurrency: 50,
    adminDatabaseUrl: process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
  };
}
