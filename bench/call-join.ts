/**
 * Join to first remote frame (issue 3, item 9): `npm run bench:call-join` prints JSON.
 *
 * The production build (`npm run build` first) is served by server.ts in a child process,
 * exactly as `npm start` runs it (embedded defaults, its own SFU child, media on loopback).
 * System Chromium with a fake camera and microphone: a host joins the call and stays; then,
 * BENCH_CALL_JOINS times (default 10), a guest opens the room in a fresh context and clicks
 * `Join call`. Measured in the guest's page, from the click event to the first frame of the
 * host's video presented in its tile (requestVideoFrameCallback), with the steps between
 * (call ticket answered, subscribe connection connected) for where the time goes. The guest
 * then leaves and its context closes. Target: median and p95 under 1 s.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { type Browser, chromium, type Page } from "@playwright/test";
import { chromiumArgs, chromiumPath } from "../scripts/chromium";

const JOINS = Number(process.env.BENCH_CALL_JOINS ?? 10);
const TARGET_MS = 1_000;

interface Join {
  /** Click → the host's first video frame presented in the guest's tile. */
  firstFrameMs: number;
  /** Click → the call ticket's response ended. */
  ticketMs: number | null;
  /** Click → the SFU's first subscribe offer applied (signaling connected, joined, offered). */
  subscribeOfferMs: number | null;
  /** Click → the subscribe connection's ICE connected. */
  subscribeIceMs: number | null;
  /** Click → the subscribe connection connected (ICE + DTLS done). */
  subscribeConnectedMs: number | null;
}

async function main(): Promise<void> {
  if (!existsSync(".next/BUILD_ID"))
    throw new Error("no production build: run `npm run build` first");
  const dataDir = await mkdtemp(path.join(tmpdir(), "parley-bench-call-"));
  const port = await freePort();
  const server = startServer(port, dataDir);
  let browser: Browser | undefined;
  try {
    const base = `http://127.0.0.1:${port}`;
    await waitHealthy(base, server);
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
    const host = await guest(browser, `${base}/signin`, "Host");
    await host.getByRole("button", { name: "New room" }).click();
    await host.waitForURL(/\/r\//);
    const room = new URL(host.url()).pathname;
    await host.getByRole("button", { name: "Join call" }).click();
    await host.getByRole("button", { name: "Leave call" }).waitFor();

    const joins: Join[] = [];
    for (let i = 0; i < JOINS; i++) joins.push(await measureJoin(browser, `${base}${room}`));

    const frames = joins.map((j) => j.firstFrameMs);
    const result = {
      bench: "call-join",
      what: "click on Join call → first remote video frame presented, Chromium, loopback",
      joins: joins.length,
      firstFrameMs: summary(frames),
      steps: {
        ticketMs: summary(present(joins.map((j) => j.ticketMs))),
        subscribeOfferMs: summary(present(joins.map((j) => j.subscribeOfferMs))),
        subscribeIceMs: summary(present(joins.map((j) => j.subscribeIceMs))),
        subscribeConnectedMs: summary(present(joins.map((j) => j.subscribeConnectedMs))),
      },
      samplesMs: frames.map(Math.round),
      targetMs: TARGET_MS,
      meetsTarget: percentile(frames, 0.5) < TARGET_MS && percentile(frames, 0.95) < TARGET_MS,
      machine: { cpus: cpus().length, loadavg: loadavg().map((l) => Math.round(l * 100) / 100) },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await browser?.close();
    await stopServer(server);
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** One guest joins, is measured, and leaves. */
async function measureJoin(browser: Browser, roomUrl: string): Promise<Join> {
  const page = await guest(browser, roomUrl, "Guest");
  try {
    // tsx compiles with esbuild's keepNames, whose `__name` helper the page lacks.
    await page.evaluate("globalThis.__name ??= (fn) => fn");
    await page.evaluate(installProbe);
    await page.getByRole("button", { name: "Join call" }).click();
    const timing = await page.evaluate(() => (window as unknown as ProbeWindow).firstFrame);
    await page.getByRole("button", { name: "Leave call" }).click();
    await page.getByRole("button", { name: "Join call" }).waitFor();
    return timing;
  } finally {
    await page.context().close();
  }
}

interface ProbeWindow {
  firstFrame: Promise<Join>;
}

/**
 * Runs in the guest's page before the click: notes the click's time, then waits for the
 * host's tile, its first presented frame, the ticket's resource timing and the subscribe
 * connection (the second RTCPeerConnection the call makes) connecting.
 */
function installProbe(): void {
  const OriginalPc = window.RTCPeerConnection;
  // The call makes its publish connection first and its subscribe connection second.
  const subscribe: { offer?: number; ice?: number; connected?: number } = {};
  let made = 0;
  const Recording = function (
    this: unknown,
    ...args: ConstructorParameters<typeof RTCPeerConnection>
  ) {
    const pc = new OriginalPc(...args);
    if (++made !== 2) return pc;
    const setRemote = pc.setRemoteDescription.bind(pc);
    pc.setRemoteDescription = (description: RTCSessionDescriptionInit) => {
      subscribe.offer ??= performance.now();
      return setRemote(description);
    };
    pc.addEventListener("iceconnectionstatechange", () => {
      if (pc.iceConnectionState === "connected") subscribe.ice ??= performance.now();
    });
    pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "connected") subscribe.connected ??= performance.now();
    });
    return pc;
  } as unknown as typeof RTCPeerConnection;
  Recording.prototype = OriginalPc.prototype;
  window.RTCPeerConnection = Recording;

  let clickedAt = 0;
  const button = [...document.querySelectorAll("button")].find(
    (b) => b.textContent?.trim() === "Join call",
  )!;
  button.addEventListener("click", () => (clickedAt = performance.now()), {
    capture: true,
    once: true,
  });

  (window as unknown as ProbeWindow).firstFrame = new Promise<Join>((resolve, reject) => {
    const timeout = setTimeout(() => reject(new Error("no remote frame within 20 s")), 20_000);
    const watch = () => {
      const tile = [...document.querySelectorAll('[role="group"]')].find(
        (t) => t.getAttribute("aria-label") === "Host",
      );
      const video = tile?.querySelector("video");
      if (!video) return void requestAnimationFrame(watch);
      video.requestVideoFrameCallback((_now, frame) => {
        clearTimeout(timeout);
        const ticket = performance
          .getEntriesByType("resource")
          .find((e) => /\/api\/rooms\/[^/]+\/call$/.test(e.name) && e.startTime >= clickedAt) as
          PerformanceResourceTiming | undefined;
        resolve({
          firstFrameMs: frame.presentationTime - clickedAt,
          ticketMs: ticket ? ticket.responseEnd - clickedAt : null,
          subscribeOfferMs: subscribe.offer !== undefined ? subscribe.offer - clickedAt : null,
          subscribeIceMs: subscribe.ice !== undefined ? subscribe.ice - clickedAt : null,
          subscribeConnectedMs:
            subscribe.connected !== undefined ? subscribe.connected - clickedAt : null,
        });
      });
    };
    watch();
  });
}

async function guest(browser: Browser, url: string, name: string): Promise<Page> {
  const context = await browser.newContext({ permissions: ["camera", "microphone"] });
  const page = await context.newPage();
  await page.goto(url);
  await page.getByLabel("Display name").fill(name);
  await page.getByRole("button", { name: "Continue as guest" }).click();
  await page.waitForURL((u) => u.pathname !== "/signin");
  // On a room page, the room's live connection is up once you are among its participants.
  if (new URL(url).pathname.startsWith("/r/")) {
    await page
      .getByRole("region", { name: "Participants" })
      .getByRole("listitem")
      .first()
      .waitFor();
  }
  return page;
}

function startServer(port: number, dataDir: string): ChildProcess {
  return spawn(
    process.execPath,
    ["--import", "./scripts/node-hooks.mjs", "--import", "tsx", "server.ts"],
    {
      stdio: ["ignore", "ignore", "inherit"],
      env: {
        ...process.env,
        NODE_ENV: "production",
        PORT: String(port),
        HOST: "127.0.0.1",
        DATA_DIR: dataDir,
        LOG_LEVEL: "warn",
        DATABASE_URL: "",
        REDIS_URL: "",
        SFU_MEDIA_IP: "127.0.0.1",
      },
    },
  );
}

async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.pid === undefined) return;
  const exited = new Promise((resolve) => server.once("exit", resolve));
  process.kill(server.pid, "SIGTERM");
  const kill = setTimeout(
    () => server.pid !== undefined && process.kill(server.pid, "SIGKILL"),
    10_000,
  );
  await exited;
  clearTimeout(kill);
}

async function waitHealthy(base: string, server: ChildProcess): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`the server exited with ${server.exitCode}`);
    const ok = await fetch(`${base}/api/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error("the server was not healthy within 2 minutes");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

function present(values: (number | null)[]): number[] {
  return values.filter((v): v is number => v !== null);
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

function summary(values: number[]) {
  const round = (n: number) => Math.round(n);
  return {
    median: round(percentile(values, 0.5)),
    p95: round(percentile(values, 0.95)),
    min: round(Math.min(...values)),
    max: round(Math.max(...values)),
  };
}

await main();
