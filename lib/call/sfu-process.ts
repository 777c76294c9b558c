import "server-only";
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import type { Logger } from "@/lib/server/log";

/**
 * The SFU as a child of the web node (the one-command default): started with the project's
 * own Node and TypeScript hooks, restarted with backoff whenever it dies, stopped by PID.
 * The child binds signaling to 127.0.0.1 on a free port and reports it over IPC.
 */
const RESTART_DELAYS_MS = [250, 500, 1_000, 2_000, 5_000, 10_000, 30_000];
/** A child that ran this long is healthy again: the next crash restarts quickly. */
const HEALTHY_AFTER_MS = 30_000;

export interface SfuProcessOptions {
  callTokenSecret: string;
  log: Logger;
  /** Extra environment for the child (media IP, ports…); the web node's own is inherited. */
  env?: Record<string, string>;
  cwd?: string;
}

export class SfuProcess {
  private child: ChildProcess | undefined;
  private port_: number | undefined;
  private crashes = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private closing = false;
  private readonly readyWaiters: Array<() => void> = [];

  constructor(private readonly options: SfuProcessOptions) {}

  /** The child's signaling port while it is up. */
  get port(): number | undefined {
    return this.port_;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  ready(): boolean {
    return this.port_ !== undefined;
  }

  /** Resolves once the child reports it is listening (now, if it already is). */
  whenReady(): Promise<void> {
    if (this.ready()) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  start(): void {
    if (this.closing || this.child) return;
    const cwd = this.options.cwd ?? process.cwd();
    const startedAt = Date.now();
    const child = spawn(
      process.execPath,
      ["--import", "./scripts/node-hooks.mjs", "--import", "tsx", path.join("sfu", "main.ts")],
      {
        cwd,
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        env: {
          ...process.env,
          ...this.options.env,
          CALL_TOKEN_SECRET: this.options.callTokenSecret,
          SFU_HOST: "127.0.0.1",
          SFU_PORT: "0",
          // The child serves this web node only; registering it would invite others.
          REDIS_URL: "",
        },
      },
    );
    this.child = child;
    child.on("message", (message: unknown) => {
      const m = message as { type?: unknown; port?: unknown } | null;
      if (m?.type === "ready" && typeof m.port === "number" && child === this.child) {
        this.port_ = m.port;
        this.options.log.info("SFU child ready", { pid: child.pid, port: m.port });
        for (const resolve of this.readyWaiters.splice(0)) resolve();
      }
    });
    child.on("error", (err) => this.options.log.error("SFU child error", { err: err.message }));
    child.once("exit", (code, signal) => {
      if (child !== this.child) return;
      this.child = undefined;
      this.port_ = undefined;
      if (this.closing) return;
      if (Date.now() - startedAt > HEALTHY_AFTER_MS) this.crashes = 0;
      const delay = RESTART_DELAYS_MS[Math.min(this.crashes, RESTART_DELAYS_MS.length - 1)]!;
      this.crashes++;
      this.options.log.warn("SFU child exited; restarting", { code, signal, inMs: delay });
      this.restartTimer = setTimeout(() => this.start(), delay);
      this.restartTimer.unref();
    });
  }

  /** Stops the child (SIGTERM, then SIGKILL after 5 s) and does not restart it. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null || child.pid === undefined)
      return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    process.kill(child.pid, "SIGTERM");
    const kill = setTimeout(() => {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, "SIGKILL");
    }, 5_000);
    await exited;
    clearTimeout(kill);
  }
}
