import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { type BrowserContext, expect, type Locator, type Page } from "@playwright/test";
import type { Page as PuppeteerPage } from "puppeteer-core";

export function callRegion(page: Page): Locator {
  return page.getByRole("region", { name: "Call" });
}

/** A video tile by its accessible name (`Ada`, `Ada (screen)`, `You`). */
export function tile(page: Page, name: string): Locator {
  return callRegion(page).getByRole("group", { name, exact: true });
}

/**
 * What a person answers when a page of `context` at `origin` asks for the camera and
 * microphone, set through CDP (`Browser.setPermission`) before it asks. Only a Chromium
 * launched with `chromiumArgsAsking` honours a "denied": the fake-UI flag of the usual
 * launch accepts every prompt.
 */
export async function answerDevicePrompt(
  context: BrowserContext,
  origin: string,
  answers: { camera: "granted" | "denied"; microphone: "granted" | "denied" },
): Promise<void> {
  const browser = context.browser();
  if (!browser) throw new Error("answerDevicePrompt needs a launched browser");
  // CDP names the context by an id Playwright does not expose; a page's target tells it.
  const page = await context.newPage();
  const target = await context.newCDPSession(page);
  const { targetInfo } = await target.send("Target.getTargetInfo");
  await page.close();
  const cdp = await browser.newBrowserCDPSession();
  for (const name of ["camera", "microphone"] as const) {
    await cdp.send("Browser.setPermission", {
      permission: { name },
      setting: answers[name],
      origin,
      browserContextId: targetInfo.browserContextId,
    });
  }
  // Left attached: Chromium drops a session's permission overrides when it detaches.
}

export async function joinCall(page: Page): Promise<void> {
  await callRegion(page).getByRole("button", { name: "Join call" }).click();
  await expect(callRegion(page).getByRole("button", { name: "Leave call" })).toBeVisible();
}

/**
 * A page of either driver: Playwright's, or puppeteer-core's driving Firefox over WebDriver
 * BiDi (e2e/firefox.ts). The checks below work on both.
 */
export type PageLike = Page | PuppeteerPage;

/** Runs `fn(arg)` in the page. Both drivers do exactly this; only their typings differ. */
function run<R, A>(page: PageLike, fn: (arg: A) => R | Promise<R>, arg: A): Promise<R> {
  const evaluate = page.evaluate as unknown as (f: typeof fn, a: A) => Promise<R>;
  return evaluate.call(page, fn, arg);
}

/**
 * Frames the named tile's video has presented so far, counted with
 * requestVideoFrameCallback (Firefox reports no totalVideoFrames for a MediaStream).
 * -1 when the tile or its video is missing.
 */
function tileFrames(name: string): number {
  const tiles = document.querySelectorAll<HTMLElement>('section[aria-label="Call"] [role="group"]');
  const video = [...tiles]
    .find((t) => t.getAttribute("aria-label") === name)
    ?.querySelector("video");
  if (!video) return -1;
  const counted = video as HTMLVideoElement & { framesSeen?: number };
  if (counted.framesSeen === undefined) {
    counted.framesSeen = 0;
    const count = () => {
      counted.framesSeen! += 1;
      video.requestVideoFrameCallback(count);
    };
    video.requestVideoFrameCallback(count);
  }
  return counted.framesSeen;
}

/**
 * How much sound the named tile received over about a second (`name` null: the first sound
 * of the call you are in, tile or none — as while you look at another room): the loudest
 * sample an analyser hears on its stream, or — where an AudioContext cannot run (headless
 * Firefox has no audio device) — the decoded audio energy its inbound-rtp stats gained,
 * found through the connections `recordCallMedia` kept. 0 when silent or missing. The sound
 * plays in the shell's CallAudio (`audio[data-track]`), which the tile names
 * (`data-audio-track`).
 */
async function tileSound(name: string | null): Promise<number> {
  let audio: HTMLAudioElement | null | undefined;
  if (name === null) {
    audio = document.querySelector<HTMLAudioElement>("audio[data-track]");
  } else {
    const tiles = document.querySelectorAll<HTMLElement>(
      'section[aria-label="Call"] [role="group"]',
    );
    const trackId = [...tiles]
      .find((t) => t.getAttribute("aria-label") === name)
      ?.getAttribute("data-audio-track");
    audio = trackId
      ? [...document.querySelectorAll<HTMLAudioElement>("audio[data-track]")].find(
          (a) => a.dataset.track === trackId,
        )
      : null;
  }
  const stream = audio?.srcObject;
  if (!(stream instanceof MediaStream) || stream.getAudioTracks().length === 0) return 0;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const context = new AudioContext();
  const running = await Promise.race([
    context.resume().then(() => true),
    sleep(1_000).then(() => false),
  ]);
  if (running) {
    const analyser = context.createAnalyser();
    const source = context.createMediaStreamSource(stream);
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    let peak = 0;
    for (let i = 0; i < 20; i++) {
      await sleep(50);
      analyser.getFloatTimeDomainData(samples);
      for (const sample of samples) peak = Math.max(peak, Math.abs(sample));
    }
    source.disconnect();
    await context.close();
    return peak;
  }
  void context.close();
  const trackId = stream.getAudioTracks()[0]!.id;
  const pcs =
    (window as { recordedPeerConnections?: RTCPeerConnection[] }).recordedPeerConnections ?? [];
  const energy = async () => {
    let total = 0;
    for (const pc of pcs) {
      (await pc.getStats()).forEach(
        (report: { type: string; trackIdentifier?: string; totalAudioEnergy?: number }) => {
          if (report.type === "inbound-rtp" && report.trackIdentifier === trackId)
            total += report.totalAudioEnergy ?? 0;
        },
      );
    }
    return total;
  };
  const before = await energy();
  await sleep(1_000);
  return (await energy()) - before;
}

/**
 * An init script that keeps every RTCPeerConnection and every captured track the page
 * makes (on `window.recordedPeerConnections` / `recordedTracks`), for `tileSound`'s stats
 * and for checking that leaving closed and stopped them all.
 */
export function recordCallMedia(): void {
  const w = window as {
    recordedPeerConnections?: RTCPeerConnection[];
    recordedTracks?: MediaStreamTrack[];
  };
  const Original = window.RTCPeerConnection;
  const pcs: RTCPeerConnection[] = (w.recordedPeerConnections = []);
  const tracks: MediaStreamTrack[] = (w.recordedTracks = []);
  const Recording = function (
    this: unknown,
    ...args: ConstructorParameters<typeof RTCPeerConnection>
  ) {
    const pc = new Original(...args);
    pcs.push(pc);
    return pc;
  } as unknown as typeof RTCPeerConnection;
  Recording.prototype = Original.prototype;
  window.RTCPeerConnection = Recording;
  const devices = navigator.mediaDevices;
  for (const name of ["getUserMedia", "getDisplayMedia"] as const) {
    const capture = devices[name].bind(devices);
    devices[name] = async (constraints?: MediaStreamConstraints) => {
      const stream = await capture(constraints);
      tracks.push(...stream.getTracks());
      return stream;
    };
  }
}

/** After leaving: every connection the call made is closed and every captured track ended. */
export async function expectAllReleased(page: Page): Promise<void> {
  const stillOpen = () =>
    page.evaluate(() => {
      const w = window as {
        recordedPeerConnections?: RTCPeerConnection[];
        recordedTracks?: MediaStreamTrack[];
      };
      const pcs = w.recordedPeerConnections ?? [];
      const tracks = w.recordedTracks ?? [];
      return {
        made: pcs.length > 0 && tracks.length > 0,
        open: [
          ...pcs.filter((pc) => pc.connectionState !== "closed").map(() => "connection"),
          ...tracks.filter((t) => t.readyState !== "ended").map((t) => `${t.kind} track`),
        ],
      };
    });
  await expect.poll(stillOpen).toEqual({ made: true, open: [] });
}

/** The named tile's video is live: frames keep coming (not one frozen frame). */
export async function expectMovingVideo(
  page: PageLike,
  name: string,
  timeout = 20_000,
): Promise<void> {
  await expect.poll(() => run(page, tileFrames, name), { timeout }).toBeGreaterThanOrEqual(0);
  const start = await run(page, tileFrames, name);
  await expect
    .poll(() => run(page, tileFrames, name), { timeout, message: `${name}'s video moves` })
    .toBeGreaterThan(start + 10);
}

/**
 * The named tile plays live sound (the fake microphones beep or hum); `name` null: the call
 * you are in plays sound, wherever you are looking.
 */
export async function expectLiveAudio(
  page: PageLike,
  name: string | null,
  timeout = 20_000,
): Promise<void> {
  await expect
    .poll(() => run(page, tileSound, name), {
      timeout,
      message: `${name ?? "the call"} is heard`,
    })
    .toBeGreaterThan(0.001);
}

/**
 * The pid of the SFU child of the web node serving `port`: found through the socket
 * listening on the port (/proc/net/tcp → inode → the process holding it) and that
 * process's children. Only for killing the SFU this test run started.
 */
export function sfuChildPid(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is "ADDR:PORT"; state 0A is LISTEN; inode is column 10.
      if (cols[1]?.endsWith(`:${hexPort}`) && cols[3] === "0A") inodes.add(cols[9]!);
    }
  }
  let server: number | undefined;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      for (const fd of readdirSync(`/proc/${entry}/fd`)) {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
        if (inode && inodes.has(inode)) server = Number(entry);
      }
    } catch {
      // Not ours to read, or gone.
    }
    if (server) break;
  }
  if (!server) throw new Error(`no process listens on port ${port}`);
  for (const task of readdirSync(`/proc/${server}/task`)) {
    const children = readFileSync(`/proc/${server}/task/${task}/children`, "utf8")
      .trim()
      .split(/\s+/);
    for (const child of children.filter(Boolean)) {
      const cmdline = readFileSync(`/proc/${child}/cmdline`, "utf8");
      if (cmdline.includes("sfu/main.ts")) return Number(child);
    }
  }
  throw new Error(`the web node ${server} has no SFU child`);
}
