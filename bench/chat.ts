/**
 * Chat fan-out (issue 2, item 12): `npm run bench:chat` prints JSON on stdout, progress on
 * stderr. How it measures and what we measured: README.md, "Benchmarks".
 *
 * For Parley (the real web node, production build, PGlite or Postgres) and then for a bare
 * Socket.IO server (bench/bare-socketio-server.ts, the ceiling): sign in 2,000 guests and
 * put them in 200 rooms through the HTTP API, connect a socket.io-client bot for each,
 * send a steady 500 messages/s, and step the rate up until fan-out p99 > 100 ms, a message
 * is lost or the server falls behind.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { ClientFleet, type StepReport, type StepTiming } from "./chat/load";
import { type Options, parseOptions } from "./chat/options";
import { findProfile, summarizeProfile } from "./chat/profile";
import {
  createBenchDatabase,
  ensureBuild,
  type RunningServer,
  startBare,
  startParley,
} from "./chat/servers";
import { bareBots, createUsersAndRooms } from "./chat/setup";
import { round } from "./stats";

/** A default run takes ~7 minutes; past this something hangs, and the run ends itself. */
const WATCHDOG_MS = 20 * 60_000;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

const log = (line: string) =>
  process.stderr.write(`[bench:chat ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

/** Things to undo, newest first, whether the run ends well, fails, or is interrupted. */
const cleanups: Array<() => Promise<void>> = [];
function onCleanup(fn: () => Promise<void>): () => Promise<void> {
  cleanups.push(fn);
  return async () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
    await fn();
  };
}
async function cleanUp(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) {
    await fn().catch((err: unknown) => log(`cleanup failed: ${String(err)}`));
  }
}

let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping`);
    void cleanUp().finally(() => process.exit(130));
  });
}

/** Before a step: the server idle again and every bot back (a failed step can drop them). */
async function settle(fleet: ClientFleet, server: RunningServer) {
  await fleet.waitForQuiet(server);
  const bots = await fleet.waitForBots(120_000);
  if (bots.connected < bots.total)
    log(`  only ${bots.connected} of ${bots.total} bots are connected`);
  await fleet.waitForQuiet(server);
}

/** One ramp step, without the fields a reader of a table of steps does not need. */
function compact(step: StepReport) {
  return {
    target_msgs_per_s: step.target_msgs_per_s,
    achieved_msgs_per_s: step.achieved_msgs_per_s,
    fanout_p50_ms: step.fanout_latency_ms.p50,
    fanout_p99_ms: step.fanout_latency_ms.p99,
    fanout_max_ms: step.fanout_latency_ms.max,
    messages_late: step.messages_late,
    messages_lost: step.messages_lost,
    acks_failed: step.acks.failed,
    acks_missing_at_drain: step.acks.missing_at_drain,
    deliveries_per_s: step.deliveries.per_s_in_window,
    server_cpu_percent: step.server.cpu_percent,
    server_cpu_us_per_delivery: step.server.cpu_us_per_delivery,
    server_capacity_msgs_per_s_per_core: step.server.capacity_msgs_per_s_per_core,
    ...(step.server.database_cpu_percent !== undefined
      ? { database_cpu_percent: step.server.database_cpu_percent }
      : {}),
    client_cpu_percent: step.clients.cpu_percent,
    ...(step.clients.reconnects ? { client_reconnects_so_far: step.clients.reconnects } : {}),
    machine_busy_percent: step.machine.busy_percent,
    pass: step.pass,
    ...(step.failures.length ? { failures: step.failures } : {}),
  };
}

async function ramp(fleet: ClientFleet, server: RunningServer, options: Options) {
  const steps: ReturnType<typeof compact>[] = [];
  let highest = 0;
  let failedAt: number | undefined;
  const run = async (rate: number) => {
    await settle(fleet, server);
    log(`${server.name}: ramp step ${rate} msg/s`);
    const step = compact(
      await fleet.runStep(server, rate, options.ramp.timing, {
        bodyChars: options.bodyChars,
        maxP99Ms: options.ramp.maxP99Ms,
        label: `ramp ${rate}/s`,
      }),
    );
    log(
      `  achieved ${step.achieved_msgs_per_s}/s, p99 ${step.fanout_p99_ms} ms, lost ${step.messages_lost}, ` +
        `server ${step.server_cpu_percent} %, clients ${step.client_cpu_percent} % → ${step.pass ? "pass" : "FAIL"}`,
    );
    steps.push(step);
    return step.pass;
  };
  for (const rate of options.ramp.steps) {
    if (await run(rate)) highest = rate;
    else {
      failedAt = rate;
      break;
    }
  }
  // Even the first step failed: halve until something passes, so the ratio is not 0/x.
  while (highest === 0 && failedAt !== undefined && failedAt >= 20) {
    const lower = Math.round(failedAt / 2);
    if (await run(lower)) highest = lower;
    else failedAt = lower;
  }
  // Two bisections between the last pass and the first failure sharpen a coarse step.
  for (let bisection = 0; bisection < 2 && failedAt !== undefined && highest > 0; bisection++) {
    if (failedAt <= highest * 1.15) break;
    const unit = highest >= 1000 ? 100 : 10;
    const middle = Math.round((highest + failedAt) / 2 / unit) * unit;
    if (middle <= highest || middle >= failedAt) break;
    if (await run(middle)) highest = middle;
    else failedAt = middle;
  }
  return {
    timing: options.ramp.timing,
    criteria: `fan-out p99 ≤ ${options.ramp.maxP99Ms} ms, every message delivered to every subscriber and acked by the end of the drain, achieved ≥ 95 % of target`,
    steps,
    highest_passing_msgs_per_s: highest,
    lowest_failing_msgs_per_s: failedAt ?? null,
  };
}

async function benchTarget(name: "parley" | "bare", options: Options) {
  let server: RunningServer;
  let profileDir: string | undefined;
  const result: Record<string, unknown> = {};
  if (options.profile) {
    profileDir =
      options.profile === true
        ? await mkdtemp(path.join(tmpdir(), "parley-bench-profile-"))
        : path.resolve(options.profile);
  }
  if (name === "parley") {
    let database: Awaited<ReturnType<typeof createBenchDatabase>> | undefined;
    if (options.db === "postgres") {
      database = await createBenchDatabase(options.adminDatabaseUrl);
      const db = database;
      onCleanup(() => db.drop());
      log(`created database ${database.name}`);
    }
    log(`starting the web node (${options.db})`);
    server = await startParley({
      databaseUrl: database?.url,
      backendPids: database ? () => database.backendPids() : undefined,
      databaseStats: database ? () => database.stats() : undefined,
      profileDir,
      log,
    });
  } else {
    log("starting the bare Socket.IO server");
    server = await startBare({ profileDir, log });
  }
  const stopServer = onCleanup(() => server.stop());

  let bots;
  if (name === "parley") {
    log(`signing in ${options.clients} guests and making ${options.rooms} rooms over HTTP`);
    const setup = await createUsersAndRooms(
      server.url,
      options.clients,
      options.rooms,
      options.httpConcurrency,
    );
    bots = setup.bots;
    result.setup_seconds = round(setup.seconds, 1);
  } else {
    bots = bareBots(options.clients, options.rooms);
  }

  const fleet = await ClientFleet.start(options.workers);
  const closeFleet = onCleanup(() => fleet.close());
  log(`connecting ${bots.length} bots in ${options.workers} worker process(es)`);
  const connect = await fleet.connect(server.url, bots, {
    concurrency: options.connectConcurrency,
    catchUp: name === "parley",
  });
  result.connect = connect;
  if (connect.failed) log(`  ${connect.failed} bots failed: ${connect.errors.join("; ")}`);

  await settle(fleet, server);
  const idle = await fleet.idleCpu(server);
  result.idle_server_cpu_percent = idle.percent;

  let steadyWindow: [bigint, bigint] | undefined;
  let steadyCapacity: number | undefined;
  if (options.runSteady) {
    log(`${name}: steady load ${options.rate} msg/s for ${options.steady.windowS} s`);
    const load = await fleet.runStep(server, options.rate, options.steady, {
      bodyChars: options.bodyChars,
      maxP99Ms: options.ramp.maxP99Ms,
      label: `steady ${options.rate}/s`,
    });
    steadyWindow = [BigInt(load.window_hrtime_ns[0]), BigInt(load.window_hrtime_ns[1])];
    if (load.acks.failed === 0)
      steadyCapacity = load.server.capacity_msgs_per_s_per_core ?? undefined;
    const { window_hrtime_ns: _drop, ...shown } = load;
    result.load = {
      ...shown,
      issue_targets: { fanout_p99_ms_below: 50, messages_lost: 0 },
      issue_targets_met: (load.fanout_latency_ms.p99 ?? Infinity) < 50 && load.messages_lost === 0,
    };
    log(
      `  p50 ${load.fanout_latency_ms.p50} / p99 ${load.fanout_latency_ms.p99} ms, lost ${load.messages_lost}, ` +
        `server ${load.server.cpu_percent} % CPU, clients ${load.clients.cpu_percent} %`,
    );
  }
  if (options.runRamp) result.ramp = await ramp(fleet, server, options);
  // Over every step that refused nothing; the best-amortized one (idle heartbeats weigh
  // less at higher rates) is the estimate.
  const capacities = [
    ...(steadyCapacity !== undefined ? [steadyCapacity] : []),
    ...((result.ramp as Awaited<ReturnType<typeof ramp>> | undefined)?.steps ?? [])
      .filter((s) => s.acks_failed === 0)
      .map((s) => s.server_capacity_msgs_per_s_per_core ?? 0),
  ];
  result.cpu_capacity_msgs_per_s_per_core = capacities.length ? Math.max(...capacities) : null;

  if (name === "parley") {
    log("catching every bot up to check that nothing was lost");
    await settle(fleet, server);
    result.eventual_delivery = await fleet.verifyDelivery();
  }

  await closeFleet();
  await stopServer();
  if (profileDir) {
    const file = findProfile(profileDir, server.pid);
    if (file && steadyWindow) {
      result.profile = summarizeProfile(file, steadyWindow);
      result.profile_idle = summarizeProfile(file, idle.hrtime, 10);
    } else
      result.profile = {
        error: `no profile of pid ${server.pid} in ${profileDir}, or no steady load`,
      };
    if (options.profile === true) await rm(profileDir, { recursive: true, force: true });
  }
  await cleanUp(); // the database, if one was made
  return result;
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const dbHost = new URL(options.adminDatabaseUrl).hostname;
  if (options.db === "postgres" && !LOOPBACK.has(dbHost)) {
    throw new Error(`BENCH_DATABASE_URL must point at a loopback address, not ${dbHost}`);
  }
  if (options.targets.includes("parley" as never)) await ensureBuild(log);
  setTimeout(() => {
    log(`watchdog: still running after ${WATCHDOG_MS / 60_000} min; giving up`);
    void cleanUp().finally(() => process.exit(2));
  }, WATCHDOG_MS).unref();

  const startedAt = performance.now();
  const report: Record<string, unknown> = {
    benchmark: "chat",
    db: options.db,
    clients: options.clients,
    rooms: options.rooms,
    rate_msgs_per_s: options.rate,
    steady_timing_s: options.steady satisfies StepTiming,
    body_chars: options.bodyChars,
    client_processes: options.workers,
    machine: { cores: cpus().length, load_average_1m_at_start: round(loadavg()[0] ?? 0) },
  };
  const results: Record<string, Record<string, unknown>> = {};
  for (const target of options.targets) {
    results[target] = await benchTarget(target, options);
    report[target] = results[target];
  }
  type Ramp = { highest_passing_msgs_per_s: number };
  const parley = results.parley;
  const bare = results.bare;
  const parleyRamp = parley?.ramp as Ramp | undefined;
  const bareRamp = bare?.ramp as Ramp | undefined;
  if (parley && bare) {
    const parleyCapacity = parley.cpu_capacity_msgs_per_s_per_core as number | null;
    const bareCapacity = bare.cpu_capacity_msgs_per_s_per_core as number | null;
    report.comparison = {
      ...(parleyRamp && bareRamp
        ? {
            parley_highest_msgs_per_s: parleyRamp.highest_passing_msgs_per_s,
            bare_highest_msgs_per_s: bareRamp.highest_passing_msgs_per_s,
            parley_to_bare_ratio: bareRamp.highest_passing_msgs_per_s
              ? round(
                  parleyRamp.highest_passing_msgs_per_s / bareRamp.highest_passing_msgs_per_s,
                  2,
                )
              : null,
          }
        : {}),
      issue_target_ratio: 0.5,
      // Less sensitive to a busy machine than the latency-gated rates above.
      parley_cpu_capacity_msgs_per_s_per_core: parleyCapacity,
      bare_cpu_capacity_msgs_per_s_per_core: bareCapacity,
      cpu_capacity_ratio:
        parleyCapacity && bareCapacity ? round(parleyCapacity / bareCapacity, 3) : null,
    };
  }
  report.machine = {
    ...(report.machine as object),
    load_average_1m_at_end: round(loadavg()[0] ?? 0),
  };
  report.total_seconds = round((performance.now() - startedAt) / 1000, 1);
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await cleanUp();
    process.exit(1);
  },
);
