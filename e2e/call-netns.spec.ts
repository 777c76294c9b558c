import { type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { type Browser, chromium, type BrowserContext, expect, test } from "@playwright/test";
import { chromiumArgs, chromiumArgsAsking, chromiumPath } from "../scripts/chromium";
import { Lab, labAvailable, stop } from "../test/support/netns";
import {
  answerDevicePrompt,
  callRegion,
  expectLiveAudio,
  expectMovingVideo,
  joinCall,
  tile,
} from "./call-support";
import { byRole, firefoxGuest, firefoxJoinCall, firefoxPath, launchFirefoxIn } from "./firefox";
import { guestIn, newRoom, signUp } from "./support";

/**
 * Calls on a real network with the browsers as they ship (issue 8). Parley runs as
 * `npm start` runs it — production build, default addresses and ports (so the SFU's media
 * binds every interface, no SFU_MEDIA_IP), embedded PGlite, a fresh DATA_DIR — on the
 * "server" host of a network lab (test/support/netns.ts), and each participant's browser on
 * a host of its own; every host is dual-stack with default routes, like a real machine.
 * Browsers keep WebRTC's privacy defaults: host addresses hidden behind mDNS names.
 *
 * Playwright, with its own server rather than the config's webServer: that one runs on
 * the machine's loopback, and this one must run inside the lab; it is started and stopped
 * here by PID. Browsers are launched per test, so only a call's two run at a time.
 *
 * Secure context: getUserMedia needs one, and http://10.77.1.2:3000 is not (only https and
 * localhost are). Chromium gets `--unsafely-treat-insecure-origin-as-secure=<origin>` and
 * Firefox `dom.securecontext.allowlist`: both mark that one test origin secure and change
 * nothing about networking or privacy.
 */
// The trace's screencast starves remote video of paints on two cores (frames decode, none
// show); traces keep their DOM snapshots.
test.use({ trace: { mode: "retain-on-failure", screenshots: false } });

const DATA_DIR = path.resolve(".test-data/e2e-netns");

/**
 * The host candidates a new peer connection in the page gathers: as browsers ship, a page
 * that has not been given the camera or microphone sees mDNS names, never addresses.
 */
async function hostCandidates(): Promise<string[]> {
  const pc = new RTCPeerConnection();
  pc.createDataChannel("probe");
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise<void>((resolve) => {
    if (pc.iceGatheringState === "complete") resolve();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
  });
  const hosts = (pc.localDescription?.sdp ?? "")
    .split("\r\n")
    .filter((line) => line.startsWith("a=candidate:") && line.includes(" typ host"))
    .map((line) => line.split(" ")[4]!);
  pc.close();
  return hosts;
}

test.describe("calls on a real network, browsers as they ship", () => {
  test.skip(!labAvailable(), "network namespaces need root, iproute2 and nftables");

  let lab: Lab;
  let server: ChildProcess;
  let origin: string;
  const serverLog: string[] = [];
  const browsers: { close(): Promise<void> }[] = [];

  test.beforeAll(async () => {
    test.setTimeout(120_000);
    lab = await Lab.create([{ name: "server" }, { name: "ada" }, { name: "grace" }]);
    rmSync(DATA_DIR, { recursive: true, force: true });
    // `npm start` with nothing set but where the data lives: no variable of this shell
    // (DATABASE_URL, SFU_MEDIA_IP, PORT…) reaches the server.
    server = lab.spawn(
      "server",
      process.execPath,
      ["--import", "./scripts/node-hooks.mjs", "--import", "tsx", "server.ts"],
      {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "production", DATA_DIR },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    await new Promise<void>((resolve, reject) => {
      const collect = (chunk: Buffer) => {
        serverLog.push(String(chunk));
        if (String(chunk).includes("Parley is listening")) resolve();
      };
      server.stdout!.on("data", collect);
      server.stderr!.on("data", collect);
      server.once("exit", (code) =>
        reject(new Error(`the server exited (${code}):\n${serverLog.join("")}`)),
      );
    });
    origin = `http://${lab.host("server").ipv4[0]}:3000`;
  });

  test.afterEach(async ({}, testInfo) => {
    await Promise.all(browsers.splice(0).map((b) => b.close().catch(() => {})));
    if (testInfo.status !== testInfo.expectedStatus)
      await testInfo.attach("server log", { body: serverLog.join("") });
  });

  test.afterAll(async () => {
    if (server) await stop(server);
    await lab?.destroy();
  });

  /** Chromium on a lab host; `asking`: no one accepts its permission prompts. */
  async function chromiumOn(host: string, asking = false): Promise<Browser> {
    const browser = await chromium.launch({
      executablePath: lab.wrap(host, chromiumPath),
      args: [
        ...(asking ? chromiumArgsAsking : chromiumArgs),
        `--unsafely-treat-insecure-origin-as-secure=${origin}`,
      ],
    });
    browsers.push(browser);
    return browser;
  }

  async function context(browser: Browser): Promise<BrowserContext> {
    return browser.newContext({ baseURL: origin });
  }

  test("two Chromiums on different hosts see and hear each other", async () => {
    test.setTimeout(90_000);
    const ada = await (await context(await chromiumOn("ada"))).newPage();
    await signUp(ada, "Ada");
    const room = await newRoom(ada);
    const grace = await guestIn(await context(await chromiumOn("grace")), room, "Grace");
    const hosts = await grace.evaluate(hostCandidates);
    expect(hosts.length).toBeGreaterThan(0);
    expect(hosts.filter((host) => !host.endsWith(".local"))).toEqual([]);

    await joinCall(ada);
    await joinCall(grace);
    await Promise.all([expectMovingVideo(ada, "Grace"), expectMovingVideo(grace, "Ada")]);
    await Promise.all([expectLiveAudio(ada, "Grace"), expectLiveAudio(grace, "Ada")]);
  });

  test("Chromium and Firefox see and hear each other, both ways", async () => {
    test.setTimeout(90_000);
    const executable = firefoxPath();
    if (!executable)
      throw new Error(
        "no Firefox here: `node scripts/ensure-browsers.mjs firefox` finds or installs one",
      );
    const ada = await (await context(await chromiumOn("ada"))).newPage();
    await signUp(ada, "Ada");
    const room = await newRoom(ada);
    const firefox = await launchFirefoxIn(lab, "grace", executable, {
      "dom.securecontext.allowlist": lab.host("server").ipv4[0],
    });
    browsers.push(firefox);
    const grace = await firefoxGuest(firefox, `${origin}${room}`, "Grace");
    const hosts = await grace.evaluate(hostCandidates);
    expect(hosts.length).toBeGreaterThan(0);
    expect(hosts.filter((host) => !host.endsWith(".local"))).toEqual([]);

    await joinCall(ada);
    await firefoxJoinCall(grace);
    await Promise.all([
      expectMovingVideo(ada, "Grace"),
      expectMovingVideo(grace, "Ada"),
      expectMovingVideo(grace, "You"),
    ]);
    await Promise.all([expectLiveAudio(ada, "Grace"), expectLiveAudio(grace, "Ada")]);

    await byRole(grace, "button", "Leave call").click();
    await byRole(grace, "button", "Join call").wait();
    await expect(tile(ada, "Grace")).toHaveCount(0);
  });

  test("someone who allows no camera or microphone still sees and hears the call", async () => {
    test.setTimeout(90_000);
    const ada = await (await context(await chromiumOn("ada"))).newPage();
    await signUp(ada, "Ada");
    const room = await newRoom(ada);
    const linusContext = await context(await chromiumOn("grace", true));
    await answerDevicePrompt(linusContext, origin, { camera: "denied", microphone: "denied" });
    const linus = await guestIn(linusContext, room, "Linus");

    await joinCall(ada);
    await joinCall(linus);
    const alerts = callRegion(linus).getByRole("alert");
    await expect(alerts.filter({ hasText: /camera was refused/ })).toBeVisible();
    await expect(alerts.filter({ hasText: /microphone was refused/ })).toBeVisible();
    await expectMovingVideo(linus, "Ada");
    await expectLiveAudio(linus, "Ada");
  });
});
