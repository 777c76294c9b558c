import { type ChildProcess, fork } from "node:child_process";
import { loadavg } from "node:os";
import { cpuWindow, rssSampler, totalCpuSeconds } from "./proc";
import type { RunningServer } from "./servers";
import { percentiles, round } from "../stats";
import type {
  BotSpec,
  ConnectResult,
  ParentMessage,
  StatusResult,
  StepResult,
  VerifyResult,
  WorkerMessage,
} from "./worker-protocol";

/**
 * The bots, in `workers` child processes (client-worker.ts), and one load step across them:
 * every worker sends its share of the rate on the same absolute schedule, the server's and
 * the clients' CPU is read from /proc over the window, and the workers' counts are merged.
 */

export interface StepTiming {
  warmupS: number;
  windowS: number;
  drainS: number;
  /** After the drain, how long to keep waiting for late deliveries before calling them lost. */
  graceS: number;
}

export interface StepReport {
  target_msgs_per_s: number;
  sent_msgs_per_s: number;
  /** Acks (after commit) received per second during the window: what the server sustained. */
  achieved_msgs_per_s: number;
  acks: {
    ok: number;
    failed: number;
    missing_at_drain: number;
    missing: number;
    errors: Record<string, number>;
  };
  deliveries: {
    expected: number;
    received: number;
    duplicates: number;
    per_s_in_window: number;
  };
  /** Not delivered to every subscriber by the end of the drain: the server fell behind. */
  messages_late: number;
  /** Not delivered to every subscriber even after the grace period. */
  messages_lost: number;
  fanout_latency_ms: Record<string, number | null>;
  ack_latency_ms: Record<string, number | null>;
  server: {
    cpu_percent: number;
    cpu_us_per_delivery: number | null;
    cpu_us_per_message: number | null;
    /**
     * 1 s of one core ÷ CPU per message: the rate this server could sustain on a core of
     * its own. An estimate, but one that a busy machine disturbs much less than latency.
     */
    capacity_msgs_per_s_per_core: number | null;
    rss_peak_mb: number;
    /** Postgres backends serving the web node's pool (postgres mode only). */
    database_cpu_percent?: number;
    database_cpu_us_per_message?: number | null;
    /** pg_stat_database deltas over the whole step, per message sent. */
    database_per_message?: Record<string, number>;
  };
  clients: {
    processes: number;
    cpu_percent: number;
    max_tick_lag_ms: number;
    /** Since the bots connected, by reason; a bot reconnects, resubscribes and catches up. */
    disconnects: Record<string, number>;
    reconnects: number;
    catch_up_events: number;
  };
  machine: { busy_percent: number; load_average_1m: number };
  /** Monotonic clock (ns, as process.hrtime.bigint) of the window: to cut a CPU profile. */
  window_hrtime_ns: [string, string];
  pass: boolean;
  failures: string[];
}

const now = () => performance.timeOrigin + performance.now();

function mergeCounts(counts: Array<Record<string, number>>): Record<string, number> {
  const merged: Record<string, number> = {};
  for (const c of counts) for (const [k, n] of Object.entries(c)) merged[k] = (merged[k] ?? 0) + n;
  return merged;
}

export class ClientFleet {
  private constructor(
    private readonly workers: ChildProcess[],
    private readonly inbox: Map<ChildProcess, Array<(m: WorkerMessage) => void>>,
  ) {}

  static async start(count: number): Promise<ClientFleet> {
    const inbox = new Map<ChildProcess, Array<(m: WorkerMessage) => void>>();
    const workers = Array.from({ length: count }, () => {
      const child = fork("bench/chat/client-worker.ts", [], {
        execArgv: ["--import", "./scripts/node-hooks.mjs", "--import", "tsx"],
        // Float64Arrays of latency samples travel as they are.
        serialization: "advanced",
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      inbox.set(child, []);
      child.on("message", (message: WorkerMessage) => {
        const waiter = inbox.get(child)?.shift();
        waiter?.(message);
      });
      return child;
    });
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            w.once("spawn", () => resolve());
            w.once("error", reject);
          }),
      ),
    );
    return new ClientFleet(workers, inbox);
  }

  pids(): number[] {
    return this.workers.map((w) => w.pid!).filter(Boolean);
  }

  private request(worker: ChildProcess, message: ParentMessage, timeoutMs: number) {
    return new Promise<WorkerMessage>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`client worker ${worker.pid} did not answer ${message.type}`)),
        timeoutMs,
      );
      const onExit = (code: number | null) =>
        reject(new Error(`client worker exited with ${code}`));
      worker.once("exit", onExit);
      this.inbox.get(worker)!.push((reply) => {
        clearTimeout(timer);
        worker.off("exit", onExit);
        if (reply.type === "error") reject(new Error(`client worker: ${reply.message}`));
        else resolve(reply);
      });
      worker.send(message);
    });
  }

  /** Connects and subscribes every bot; whole rooms go to one worker. */
  async connect(url: string, bots: BotSpec[], options: { concurrency: number; catchUp: boolean }) {
    const { concurrency } = options;
    const rooms = [...new Set(bots.map((b) => b.roomId))];
    const workerOf = new Map(rooms.map((roomId, i) => [roomId, i % this.workers.length]));
    const shares = this.workers.map((): BotSpec[] => []);
    for (const bot of bots) shares[workerOf.get(bot.roomId)!]!.push(bot);
    const results = (await Promise.all(
      this.workers.map((w, i) =>
        this.request(
          w,
          {
            type: "connect",
            url,
            bots: shares[i]!,
            concurrency: Math.max(1, Math.round(concurrency / this.workers.length)),
            timeoutMs: 30_000,
            catchUp: options.catchUp,
          },
          10 * 60_000,
        ),
      ),
    )) as ConnectResult[];
    this.connected = results.map((r) => r.connected);
    return {
      connected: results.reduce((a, r) => a + r.connected, 0),
      failed: results.reduce((a, r) => a + r.failed, 0),
      errors: results.flatMap((r) => r.errors),
      seconds: round(Math.max(...results.map((r) => r.seconds))),
    };
  }

  private connected: number[] = [];
  private nextStep = 1;
  /** Step number → its label, for the final check. */
  private readonly stepLabels = new Map<number, string>();

  /**
   * After the last step: every bot catches up and the messages still missing anywhere are
   * counted per step. A message counted late in its step but present now was delayed, not lost.
   */
  async verifyDelivery() {
    const startedAt = performance.now();
    const results = (await Promise.all(
      this.workers.map((w) => this.request(w, { type: "verify" }, 10 * 60_000)),
    )) as VerifyResult[];
    const byStep: Record<string, number> = {};
    for (const r of results) {
      for (const [step, n] of Object.entries(r.missingByStep)) {
        const label = this.stepLabels.get(Number(step)) ?? `step ${step}`;
        byStep[label] = (byStep[label] ?? 0) + n;
      }
    }
    return {
      messages_missing: Object.values(byStep).reduce((a, b) => a + b, 0),
      by_step: byStep,
      unverified_bots: results.reduce((a, r) => a + r.unverifiedBots, 0),
      seconds: round((performance.now() - startedAt) / 1000, 1),
    };
  }

  async runStep(
    server: RunningServer,
    rate: number,
    timing: StepTiming,
    options: { bodyChars: number; maxP99Ms: number; label: string },
  ): Promise<StepReport> {
    const step = this.nextStep++;
    this.stepLabels.set(step, options.label);
    const total = this.connected.reduce((a, b) => a + b, 0);
    const startAt = now() + 500;
    const warmupEnd = startAt + timing.warmupS * 1000;
    const windowEnd = warmupEnd + timing.windowS * 1000;
    const drainEnd = windowEnd + timing.drainS * 1000;
    const graceEnd = drainEnd + timing.graceS * 1000;

    const databasePids = await server.extraPids();
    const statsBefore = await server.databaseStats?.();
    const serverCpu = cpuWindow(() => [server.pid]);
    const databaseCpu = cpuWindow(() => databasePids);
    const clientCpu = cpuWindow(() => this.pids());
    const rss = rssSampler(server.pid);
    let windowHr: [bigint, bigint] = [0n, 0n];
    type Usage = ReturnType<ReturnType<typeof cpuWindow>["stop"]>;
    type Measured = { server: Usage; database: Usage; clients: Usage };
    let measured: Measured | null = null;
    // Timers, not awaits, so the CPU window is cut on time while the replies are pending.
    const startTimer = setTimeout(() => {
      serverCpu.start();
      databaseCpu.start();
      clientCpu.start();
      windowHr[0] = process.hrtime.bigint();
    }, warmupEnd - now());
    const stopTimer = setTimeout(() => {
      windowHr = [windowHr[0], process.hrtime.bigint()];
      measured = {
        server: serverCpu.stop(),
        database: databaseCpu.stop(),
        clients: clientCpu.stop(),
      };
    }, windowEnd - now());

    let results: StepResult[];
    try {
      results = (await Promise.all(
        this.workers.map((w, i) =>
          this.request(
            w,
            {
              type: "run",
              step,
              rate: total ? (rate * this.connected[i]!) / total : 0,
              startAt,
              warmupEnd,
              windowEnd,
              drainEnd,
              graceEnd,
              bodyChars: options.bodyChars,
            },
            graceEnd - now() + 60_000,
          ),
        ),
      )) as StepResult[];
    } finally {
      clearTimeout(startTimer);
      clearTimeout(stopTimer);
    }
    const rssPeak = rss.stop();
    const statsAfter = statsBefore && (await server.databaseStats?.());
    const m = measured as Measured | null;
    if (!m) throw new Error("the measurement window never closed");

    const sum = (f: (r: StepResult) => number) => results.reduce((a, r) => a + f(r), 0);
    const errors = mergeCounts(results.map((r) => r.ackErrors));
    const deliveriesInWindow = sum((r) => r.deliveriesInWindow);
    const sentInWindow = sum((r) => r.sentInWindow);
    const ackedInWindow = sum((r) => r.acksOkInWindow);
    const sentTotal = sum((r) => r.sent);
    let databasePerMessage: Record<string, number> | undefined;
    if (statsBefore && statsAfter && sentTotal) {
      databasePerMessage = Object.fromEntries(
        Object.keys(statsAfter).map((k) => [
          k,
          round(((statsAfter[k] ?? 0) - (statsBefore[k] ?? 0)) / sentTotal, 2),
        ]),
      );
    }
    const fanout = percentiles(
      results.map((r) => r.fanoutMs),
      [50, 95, 99, 100],
    );
    const ack = percentiles(
      results.map((r) => r.ackMs),
      [50, 99],
    );
    const report: StepReport = {
      target_msgs_per_s: rate,
      sent_msgs_per_s: round(sentInWindow / timing.windowS, 1),
      achieved_msgs_per_s: round(ackedInWindow / timing.windowS, 1),
      acks: {
        ok: sum((r) => r.acksOk),
        failed: sum((r) => r.acksFailed),
        missing_at_drain: sum((r) => r.acksMissingAtDrain),
        missing: sum((r) => r.acksMissing),
        errors,
      },
      deliveries: {
        expected: sum((r) => r.expectedDeliveries),
        received: sum((r) => r.receivedDeliveries),
        duplicates: sum((r) => r.duplicateDeliveries),
        per_s_in_window: round(deliveriesInWindow / timing.windowS, 1),
      },
      messages_late: sum((r) => r.messagesUndeliveredAtDrain),
      messages_lost: sum((r) => r.messagesLost),
      fanout_latency_ms: fanout,
      ack_latency_ms: ack,
      server: {
        cpu_percent: round(m.server.cpuPercent, 1),
        cpu_us_per_delivery: deliveriesInWindow
          ? round((m.server.cpuSeconds * 1e6) / deliveriesInWindow, 1)
          : null,
        // Per message the server finished (acked) in the window, not per message offered.
        cpu_us_per_message: ackedInWindow
          ? round((m.server.cpuSeconds * 1e6) / ackedInWindow, 1)
          : null,
        capacity_msgs_per_s_per_core: ackedInWindow
          ? Math.round(ackedInWindow / m.server.cpuSeconds)
          : null,
        rss_peak_mb: round(rssPeak / 2 ** 20, 1),
        ...(databasePids.length
          ? {
              database_cpu_percent: round(m.database.cpuPercent, 1),
              database_cpu_us_per_message: ackedInWindow
                ? round((m.database.cpuSeconds * 1e6) / ackedInWindow, 1)
                : null,
            }
          : {}),
        ...(databasePerMessage ? { database_per_message: databasePerMessage } : {}),
      },
      clients: {
        processes: this.workers.length,
        cpu_percent: round(m.clients.cpuPercent, 1),
        max_tick_lag_ms: round(Math.max(...results.map((r) => r.maxTickLagMs)), 1),
        disconnects: mergeCounts(results.map((r) => r.disconnects)),
        reconnects: sum((r) => r.reconnects),
        catch_up_events: sum((r) => r.catchUpEvents),
      },
      machine: {
        busy_percent: round(m.server.machineBusyPercent, 1),
        load_average_1m: round(loadavg()[0] ?? 0),
      },
      window_hrtime_ns: [String(windowHr[0]), String(windowHr[1])],
      pass: true,
      failures: [],
    };
    const failures = report.failures;
    if (report.messages_lost > 0) failures.push(`${report.messages_lost} messages lost`);
    if (report.messages_late > report.messages_lost) {
      failures.push(
        `${report.messages_late - report.messages_lost} messages delivered only after the drain`,
      );
    }
    if (report.acks.failed + report.acks.missing_at_drain > 0) {
      failures.push(
        `${report.acks.failed} acks failed, ${report.acks.missing_at_drain} missing at the drain`,
      );
    }
    if (report.achieved_msgs_per_s < 0.95 * rate) failures.push("achieved < 95 % of target");
    const p99 = fanout.p99 ?? Infinity;
    if (p99 > options.maxP99Ms) failures.push(`fan-out p99 ${p99} ms > ${options.maxP99Ms} ms`);
    report.pass = failures.length === 0;
    return report;
  }

  /** Waits (bounded) until every bot is connected and subscribed again after a drop. */
  async waitForBots(maxMs = 60_000): Promise<{ connected: number; total: number }> {
    const deadline = Date.now() + maxMs;
    for (;;) {
      const statuses = (await Promise.all(
        this.workers.map((w) => this.request(w, { type: "status" }, 10_000)),
      )) as StatusResult[];
      const connected = statuses.reduce((a, s) => a + s.connected, 0);
      const total = statuses.reduce((a, s) => a + s.total, 0);
      if (connected === total || Date.now() > deadline) return { connected, total };
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  /** The server's CPU with every bot connected and nothing sent (heartbeats, timers). */
  async idleCpu(server: RunningServer, seconds = 5) {
    const window = cpuWindow(() => [server.pid]);
    window.start();
    const from = process.hrtime.bigint();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const hrtime: [bigint, bigint] = [from, process.hrtime.bigint()];
    return { percent: round(window.stop().cpuPercent, 1), hrtime };
  }

  /** Waits until the server's CPU settles (a failed step can leave a backlog behind). */
  async waitForQuiet(server: RunningServer, maxMs = 20_000): Promise<void> {
    const deadline = Date.now() + maxMs;
    while (Date.now() < deadline) {
      const before = totalCpuSeconds([server.pid]);
      await new Promise((resolve) => setTimeout(resolve, 500));
      if ((totalCpuSeconds([server.pid]) - before) / 0.5 < 0.15) return;
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      this.workers.map(async (w) => {
        if (w.exitCode !== null || w.signalCode !== null) return;
        const exited = new Promise((resolve) => w.once("exit", resolve));
        if (w.connected) w.send({ type: "close" } satisfies ParentMessage);
        const timer = setTimeout(() => w.kill("SIGKILL"), 5000);
        await exited;
        clearTimeout(timer);
      }),
    );
  }
}
