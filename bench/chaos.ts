/**
 * The fault matrix of issue 9: `npm run chaos [-- --long] [-- --rows=R3,R5]` runs each row
 * (bench/chaos/) against PGlite and, when TEST_DATABASE_URL is set, Postgres, and prints
 * JSON on stdout — every row's figures, pass or fail, and why — with progress on stderr.
 * The exit code is 1 when a row failed. The default run is CI's short variant; `--long`
 * runs the issue's full figures (2 minutes offline, the full R1 load, the 5-minute fuzz).
 * What each row does and the last figures: README.md, "Fault tolerance".
 */
import type { TestDbKind } from "@/test/support/db";
import { R1_CI, R1_LONG, runR1 } from "./chaos/r1-web-node-killed";
import { R2_CI, R2_LONG, runR2 } from "./chaos/r2-postgres-restarted";
import { R3_CI, R3_LONG, runR3 } from "./chaos/r3-offline-catch-up";
import { runR5 } from "./chaos/r5-same-client-id";
import { runR6 } from "./chaos/r6-sfu-killed";
import { runR7OnServer } from "./chaos/r7-bad-input";
import { R8_CI, R8_LONG, runR8 } from "./chaos/r8-media-fuzz";
import { progress, type RowResult } from "./chaos/row";

const args = process.argv.slice(2);
const long = args.includes("--long");
const only = args
  .find((a) => a.startsWith("--rows="))
  ?.slice("--rows=".length)
  .split(",");
const kinds: TestDbKind[] = process.env.TEST_DATABASE_URL ? ["pglite", "postgres"] : ["pglite"];

/** A row: the databases it runs on (null: it has none) and how to run it on one. */
interface Row {
  name: string;
  kinds: (TestDbKind | null)[];
  run: (kind: TestDbKind | null) => Promise<RowResult>;
}
const onDb = (run: (kind: TestDbKind) => Promise<RowResult>) => (kind: TestDbKind | null) =>
  run(kind ?? "pglite");

const rows: Row[] = [
  { name: "R1", kinds, run: onDb((kind) => runR1(kind, long ? R1_LONG : R1_CI)) },
  // Its own throwaway cluster, so it needs no TEST_DATABASE_URL.
  { name: "R2", kinds: ["postgres"], run: () => runR2(long ? R2_LONG : R2_CI) },
  { name: "R3", kinds, run: onDb((kind) => runR3(kind, long ? R3_LONG : R3_CI)) },
  { name: "R5", kinds, run: onDb((kind) => runR5(kind)) },
  // The SFU keeps its calls in memory: no database.
  { name: "R6", kinds: [null], run: () => runR6() },
  { name: "R7", kinds, run: onDb((kind) => runR7OnServer(kind)) },
  { name: "R8", kinds: [null], run: () => runR8(long ? R8_LONG : R8_CI) },
];

const results: RowResult[] = [];
for (const { name, kinds: rowKinds, run } of rows) {
  if (only && !only.includes(name)) continue;
  for (const kind of rowKinds) {
    const label = kind ? `${name} on ${kind}` : name;
    progress(`${label}${long ? " (long)" : ""}`);
    const started = Date.now();
    const result = await run(kind).catch((err: unknown): RowResult => ({
      row: name,
      fault: "(the row itself failed)",
      db: kind,
      pass: false,
      figures: {},
      failures: [String(err instanceof Error ? (err.stack ?? err.message) : err)],
    }));
    result.figures.seconds = Math.round((Date.now() - started) / 100) / 10;
    progress(`${label}: ${result.pass ? "pass" : `FAIL: ${result.failures.join("; ")}`}`);
    results.push(result);
  }
}

const passed = results.every((r) => r.pass);
process.stdout.write(`${JSON.stringify({ long, passed, rows: results }, null, 2)}\n`);
process.exit(passed ? 0 : 1);
