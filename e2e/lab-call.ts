import type { ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { type Browser, type BrowserContext, chromium } from "@playwright/test";
import { chromiumArgs, chromiumPath } from "../scripts/chromium";
import { type Lab, stop } from "../test/support/netns";
import { recordCallMedia } from "./call-support";

/**
 * Parley and its browsers on a network lab (test/support/netns.ts), for the real-network
 * call tests: the server runs as `npm start` runs it (production build, SFU child with its
 * default addresses) on one host; each person's Chromium runs, with its default settings,
 * on another. A person's page is at http://127.0.0.1:<port> on their own host (a relay
 * there carries the TCP to the server, as a reverse proxy would: a secure context without
 * TLS), while call media goes from the host's own addresses to the SFU's.
 */

/** Parley's default port. */
export const WEB_PORT = 3000;

export interface Parley {
  /** Stops the server (and its SFU child). */
  stop(): Promise<void>;
  log(): string;
}

/** Starts Parley on `host` with a data directory that outlives restarts of it. */
export async function startParley(
  lab: Lab,
  host: string,
  env: Record<string, string>,
): Promise<Parley> {
  const dataDir = path.join(lab.dir, "parley-data");
  const child: ChildProcess = lab.spawn(
    host,
    process.execPath,
    ["--import", "./scripts/node-hooks.mjs", "--import", "tsx", "server.ts"],
    {
      cwd: process.cwd(),
      // `npm start` with only where the data lives and `env`: no variable of this shell
      // (DATABASE_URL, SFU_MEDIA_IP, PORT…) reaches the server.
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_ENV: "production",
        DATA_DIR: dataDir,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let log = "";
  child.stdout!.on("data", (d: Buffer) => (log += String(d)));
  child.stderr!.on("data", (d: Buffer) => (log += String(d)));
  // 200 once the database and the SFU child are ready.
  const health = `fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1));`;
  const url = `http://${lab.host(host).ipv4[0]}:${WEB_PORT}/api/health`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Parley exited (${child.exitCode}):\n${log}`);
    const up = await lab.run(lab.host(host).netns, process.execPath, ["-e", health, url]).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline)
      throw new Error(`Parley did not answer ${url} within 120 s:\n${log}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { stop: () => stop(child), log: () => log };
}

/** Makes http://127.0.0.1:WEB_PORT on `host` lead to Parley on `server` (a TCP relay there). */
export async function webRelay(lab: Lab, host: string, server: string): Promise<void> {
  const relay = `const net = require("node:net");
    const [port, target] = process.argv.slice(1);
    net.createServer((c) => {
      const t = net.connect(Number(port), target);
      c.pipe(t).pipe(c);
      c.on("error", () => t.destroy());
      t.on("error", () => c.destroy());
      c.on("close", () => t.destroy());
      t.on("close", () => c.destroy());
    }).listen(Number(port), "127.0.0.1", () => console.log("ready"));`;
  const child = lab.spawn(
    host,
    process.execPath,
    ["-e", relay, String(WEB_PORT), lab.host(server).ipv4[0]!],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`the web relay on ${host} exited (${code})`)));
  });
}

/**
 * Chromium, as it ships plus the synthetic camera and microphone and their auto-accept,
 * on `host`; `home` is its HOME (where it finds the NSS database of trusted certificates).
 */
export async function browserOn(lab: Lab, host: string, home?: string): Promise<Browser> {
  const dir = home ?? path.join(lab.dir, `home-${host}`);
  mkdirSync(dir, { recursive: true });
  return chromium.launch({
    executablePath: lab.wrap(host, chromiumPath),
    args: chromiumArgs,
    env: { ...process.env, HOME: dir },
  });
}

/** A fresh context on Parley whose pages record their peer connections (`recordCallMedia`). */
export async function contextOn(browser: Browser): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL: `http://127.0.0.1:${WEB_PORT}` });
  await context.addInitScript(recordCallMedia);
  return context;
}
