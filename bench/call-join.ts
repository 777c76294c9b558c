/**
 * Joining a call, as people do it (issue 8, item 5): `npm run bench:call-join` prints JSON.
 *
 * The production build (`npm run build` first) is served by server.ts in a child process, as
 * `npm start` runs it (embedded defaults, its own SFU child) with media on loopback. System
 * Chromium as it ships: a fake camera and microphone and the permission prompt accepted (the
 * fake-UI switch), nothing pre-granted, no switch that changes its network or privacy
 * behaviour (host addresses stay hidden behind mDNS names).
 *
 * 1. Top layer. A host is in the call; a viewer with a large window (1600×900) joins. From
 *    the click on `Join call`: the host's first frame, and the first frame at the full size
 *    the host's camera captures (the top simulcast layer). Target: within 10 s.
 * 2. Three people. A second person joins and stays; then BENCH_CALL_JOINS times (default
 *    10) a guest opens the room in a fresh context and clicks `Join call`: from the click to
 *    the first remote frame presented (requestVideoFrameCallback), and to a frame from both
 *    others. Target: first remote frame p95 under 1.5 s.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { type Browser, chromium, type Page } from "@playwright/test";
import { chromiumArgs, chromiumPath } from "../scripts/chromium";
import { percentiles, round } from "./stats";

const JOINS = Number(process.env.BENCH_CALL_JOINS ?? 10);
const FIRST_FRAME_TARGET_MS = 1_500;
const TOP_LAYER_TARGET_MS = 10_000;

interface Join {
  /** Click → the first frame of any other participant's video presented in its tile. */
  firstFrameMs: number;
  /** Click → a frame presented from every other participant named. */
  allFramesMs: number;
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
    const room = `${base}${new URL(host.url()).pathname}`;
    await joinAndWait(host);
    const captured = (await (
      await host.waitForFunction(cameraWidth, null, { timeout: 20_000 })
    ).jsonValue()) as number;

    process.stderr.write("top layer: a viewer on a large window joins\n");
    const topLayer = await measureTopLayer(browser, room, captured);

    process.stderr.write("three people: a second participant joins and stays\n");
    const second = await guest(browser, room, "Ana");
    await joinAndWait(second);
    const joins: Join[] = [];
    for (let i = 0; i < JOINS; i++) {
      process.stderr.write(`join ${i + 1}/${JOINS}\n`);
      joins.push(await measureJoin(browser, room, ["Host", "Ana"]));
    }

    const first = joins.map((j) => j.firstFrameMs);
    const result = {
      bench: "call-join",
      what: "click on Join call → remote video presented; Chromium as it ships, production server, SFU media on loopback",
      topLayer: {
        what: "two people, 1600×900 viewer: click → first frame, → first frame at the host's capture width",
        capturedWidth: captured,
        widestFrameSeen: topLayer.widestFrame,
        firstFrameMs: Math.round(topLayer.firstFrameMs),
        topLayerMs: topLayer.topLayerMs === null ? null : Math.round(topLayer.topLayerMs),
        targetMs: TOP_LAYER_TARGET_MS,
        meetsTarget: topLayer.topLayerMs !== null && topLayer.topLayerMs < TOP_LAYER_TARGET_MS,
      },
      threePeople: {
        joins: joins.length,
        firstFrameMs: summary(first),
        allFramesMs: summary(joins.map((j) => j.allFramesMs)),
        steps: {
          ticketMs: summary(present(joins.map((j) => j.ticketMs))),
          subscribeOfferMs: summary(present(joins.map((j) => j.subscribeOfferMs))),
          subscribeIceMs: summary(present(joins.map((j) => j.subscribeIceMs))),
          subscribeConnectedMs: summary(present(joins.map((j) => j.subscribeConnectedMs))),
        },
        samplesMs: first.map(Math.round),
        targetMs: FIRST_FRAME_TARGET_MS,
        meetsTarget:
          (percentiles([Float64Array.from(first)], [95]).p95 ?? Infinity) < FIRST_FRAME_TARGET_MS,
      },
      machine: { cpus: cpus().length, loadavg: loadavg().map((l) => round(l, 2)) },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await browser?.close();
    await stopServer(server);
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function joinAndWait(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Join call" }).click();
  await page.getByRole("button", { name: "Leave call" }).waitFor();
}

/** The width the page's camera captures (the top simulcast layer's); 0 until it is on. */
function cameraWidth(): number {
  const video = [...document.querySelectorAll('[role="group"]')]
    .find((t) => t.getAttribute("aria-label") === "You")
    ?.querySelector("video");
  const track = (video?.srcObject as MediaStream | null)?.getVideoTracks()[0];
  return track?.getSettings().width ?? 0;
}

/** A viewer with a large window joins; times its first frame and its first full-size frame. */
async function measureTopLayer(
  browser: Browser,
  roomUrl: string,
  width: number,
): Promise<{ firstFrameMs: number; topLayerMs: number | null; widestFrame: number }> {
  const page = await guest(browser, roomUrl, "Viewer", { width: 1600, height: 900 });
  try {
    await page.evaluate("globalThis.__name ??= (fn) => fn");
    await page.evaluate(installProbe, { names: ["Host"], fullWidth: width });
    await page.getByRole("button", { name: "Join call" }).click();
    const timing = await page.evaluate(() => (window as unknown as ProbeWindow).measured);
    await page.getByRole("button", { name: "Leave call" }).click();
    await page.getByRole("button", { name: "Join call" }).waitFor();
    return {
      firstFrameMs: timing.firstFrameMs,
      topLayerMs: timing.fullSizeMs,
      widestFrame: timing.widestFrame,
    };
  } finally {
    await page.context().close();
  }
}

/** One guest joins, is measured, and leaves. */
async function measureJoin(browser: Browser, roomUrl: string, names: string[]): Promise<Join> {
  const page = await guest(browser, roomUrl, "Guest");
  try {
    // tsx compiles with esbuild's keepNames, whose `__name` helper the page lacks.
    await page.evaluate("globalThis.__name ??= (fn) => fn");
    await page.evaluate(installProbe, { names, fullWidth: null });
    await page.getByRole("button", { name: "Join call" }).click();
    const timing = await page.evaluate(() => (window as unknown as ProbeWindow).measured);
    await page.getByRole("button", { name: "Leave call" }).click();
    await page.getByRole("button", { name: "Join call" }).waitFor();
    return timing;
  } finally {
    await page.context().close();
  }
}

interface ProbeWindow {
  measured: Promise<Join & { fullSizeMs: number | null; widestFrame: number }>;
}

/**
 * Runs in the page before the click: notes the click's time, then waits for the named tiles'
 * first presented frames (and, with `fullWidth`, for the first frame that wide), the ticket's
 * resource timing and the subscribe connection (the second RTCPeerConnection the call makes)
 * connecting.
 */
function installProbe({ names, fullWidth }: { names: string[]; fullWidth: number | null }): void {
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

  (window as unknown as ProbeWindow).measured = new Promise((resolve, reject) => {
    const limitMs = fullWidth === null ? 20_000 : 30_000;
    const firstFrames = new Map<string, number>();
    let fullSize: number | null = null;
    let widest = 0;
    const watched = new Set<string>();
    // Past the limit: the top layer is reported missing (null); a missing first frame fails.
    const timeout = setTimeout(() => {
      if (firstFrames.size < names.length)
        reject(
          new Error(
            `no frame from ${names.filter((n) => !firstFrames.has(n)).join(", ")} within ${limitMs} ms`,
          ),
        );
      else finish(true);
    }, limitMs);
    const finish = (timedOut = false) => {
      if (firstFrames.size < names.length || (fullWidth !== null && fullSize === null && !timedOut))
        return;
      clearTimeout(timeout);
      const ticket = performance
        .getEntriesByType("resource")
        .find((e) => /\/api\/rooms\/[^/]+\/call$/.test(e.name) && e.startTime >= clickedAt) as
        PerformanceResourceTiming | undefined;
      const frames = [...firstFrames.values()];
      resolve({
        firstFrameMs: Math.min(...frames) - clickedAt,
        allFramesMs: Math.max(...frames) - clickedAt,
        fullSizeMs: fullSize === null ? null : fullSize - clickedAt,
        widestFrame: widest,
        ticketMs: ticket ? ticket.responseEnd - clickedAt : null,
        subscribeOfferMs: subscribe.offer !== undefined ? subscribe.offer - clickedAt : null,
        subscribeIceMs: subscribe.ice !== undefined ? subscribe.ice - clickedAt : null,
        subscribeConnectedMs:
          subscribe.connected !== undefined ? subscribe.connected - clickedAt : null,
      });
    };
    const watch = () => {
      for (const name of names) {
        if (watched.has(name)) continue;
        const video = [...document.querySelectorAll('[role="group"]')]
          .find((t) => t.getAttribute("aria-label") === name)
          ?.querySelector("video");
        if (!video) continue;
        watched.add(name);
        const onFrame = (_now: number, frame: VideoFrameCallbackMetadata) => {
          if (!firstFrames.has(name)) firstFrames.set(name, frame.presentationTime);
          widest = Math.max(widest, frame.width);
          if (fullWidth !== null && fullSize === null && frame.width >= fullWidth)
            fullSize = frame.presentationTime;
          finish();
          if (fullWidth !== null && fullSize === null) video.requestVideoFrameCallback(onFrame);
        };
        video.requestVideoFrameCallback(onFrame);
      }
      if (watched.size < names.length) requestAnimationFrame(watch);
    };
    watch();
  });
}

/** Signs in as a guest in a fresh context; nothing pre-granted (the fake-UI switch accepts prompts). */
async function guest(
  browser: Browser,
  url: string,
  name: string,
  viewport = { width: 1280, height: 720 },
): Promise<Page> {
  const context = await browser.newContext({ viewport });
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

function summary(values: number[]) {
  const at = percentiles([Float64Array.from(values)], [50, 95]);
  return {
    median: round(at.p50 ?? Number.NaN, 0),
    p95: round(at.p95 ?? Number.NaN, 0),
    min: round(Math.min(...values), 0),
    max: round(Math.max(...values), 0),
  };
}

await main();
