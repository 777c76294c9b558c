/**
 * Test harness: a real SFU child process (exactly as the web node starts it), tokens for
 * it, its /stats, and bots on loopback. Every test file gets its own SFU.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { Bot, type BotOptions } from "../bot/bot";
import type { MediaNetwork } from "../media";
import type { SfuStats } from "../stats";
import { type CallGrant, mintCallToken } from "../token";

const root = path.resolve(import.meta.dirname, "../..");

export const LOOPBACK: MediaNetwork = { mediaIp: "127.0.0.1", iceTcp: false };

export interface TestSfu {
  url: string;
  port: number;
  secret: string;
  child: ChildProcess;
  token(grant: Partial<CallGrant> & { roomId: string }): Promise<string>;
  stats(): Promise<SfuStats>;
  bot(
    roomId: string,
    name: string,
    extra?: Partial<BotOptions> & { mayPublish?: boolean },
  ): Promise<Bot>;
  stop(): Promise<void>;
}

/** `nodeArgs` go before the script (e.g. `--cpu-prof` for the benchmark). */
export async function startSfu(
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<TestSfu> {
  const secret = randomBytes(32).toString("base64url");
  const child = spawn(
    process.execPath,
    [...nodeArgs, "--import", "./scripts/node-hooks.mjs", "--import", "tsx", "sfu/main.ts"],
    {
      cwd: root,
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: {
        ...process.env,
        LOG_LEVEL: process.env.SFU_TEST_LOG_LEVEL ?? "warn",
        CALL_TOKEN_SECRET: secret,
        SFU_HOST: "127.0.0.1",
        SFU_PORT: "0",
        SFU_MEDIA_IP: "127.0.0.1",
        SFU_ICE_TCP: "false",
        REDIS_URL: "",
        ...env,
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("SFU did not start in 20 s")), 20_000);
    child.once("exit", (code) => reject(new Error(`SFU exited with ${code}`)));
    child.on("message", (message: unknown) => {
      const m = message as { type?: string; port?: number };
      if (m.type === "ready" && typeof m.port === "number") {
        clearTimeout(timer);
        resolve(m.port);
      }
    });
  });
  const url = `http://127.0.0.1:${port}`;
  const sfu: TestSfu = {
    url,
    port,
    secret,
    child,
    token: (grant) =>
      mintCallToken(secret, {
        userId: grant.userId ?? `user-${randomBytes(4).toString("hex")}`,
        displayName: grant.displayName ?? "Tester",
        mayPublish: grant.mayPublish ?? true,
        roomId: grant.roomId,
      }),
    async stats() {
      const res = await fetch(`${url}/stats`);
      return (await res.json()) as SfuStats;
    },
    async bot(roomId, name, extra = {}) {
      const token = await sfu.token({
        roomId,
        displayName: name,
        mayPublish: extra.mayPublish ?? true,
      });
      return Bot.join({ url, token, roomId, network: LOOPBACK, ...extra });
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  return sfu;
}

/** Polls until `predicate` holds or `timeoutMs` passes. */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
