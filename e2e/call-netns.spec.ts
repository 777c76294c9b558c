import { type Browser, chromium, expect, test } from "@playwright/test";
import { chromiumArgsAsking, chromiumPath } from "../scripts/chromium";
import { Lab, labAvailable } from "../test/support/netns";
import {
  answerDevicePrompt,
  callRegion,
  expectLiveAudio,
  expectMovingVideo,
  joinCall,
  tile,
} from "./call-support";
import { byRole, firefoxGuest, firefoxJoinCall, firefoxPath, launchFirefoxIn } from "./firefox";
import { browserOn, contextOn, type Parley, startParley, WEB_PORT, webRelay } from "./lab-call";
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
 * here (e2e/lab-call.ts). Browsers are launched per test, so only a call's two run at a time.
 *
 * Secure context without a browser flag: getUserMedia needs one, and http://10.77.1.2:3000
 * is not. Each participant opens Parley at http://127.0.0.1:3000 on their own host, where a
 * relay carries the TCP to the server as a reverse proxy would (`webRelay`); localhost is
 * secure. Call media still goes between the hosts' own addresses and the SFU's.
 */
// The trace's screencast starves remote video of paints on two cores (frames decode, none
// show); traces keep their DOM snapshots.
test.use({ trace: { mode: "retain-on-failure", screenshots: false } });

/** Where each participant reaches Parley: their own host's relay to the server. */
const ORIGIN = `http://127.0.0.1:${WEB_PORT}`;

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
  let lab: Lab;
  let parley: Parley | undefined;
  const browsers: { close(): Promise<void> }[] = [];

  test.beforeAll(async () => {
    test.setTimeout(150_000);
    // Fail, never skip: a run without what a lab needs has not tested calls on a network.
    if (!labAvailable())
      throw new Error("these tests need root, iproute2 and nftables (network namespaces)");
    lab = await Lab.create([{ name: "server" }, { name: "ada" }, { name: "grace" }]);
    // `npm start` with nothing set but where the data lives (a fresh directory of the lab).
    parley = await startParley(lab, "server", {});
    await webRelay(lab, "ada", "server");
    await webRelay(lab, "grace", "server");
  });

  test.afterEach(async ({}, testInfo) => {
    await Promise.all(browsers.splice(0).map((b) => b.close().catch(() => {})));
    if (parley && testInfo.status !== testInfo.expectedStatus)
      await testInfo.attach("server log", { body: parley.log() });
  });

  test.afterAll(async () => {
    await parley?.stop();
    await lab?.destroy();
  });

  /** Chromium on a lab host (`browserOn`), closed after the test. */
  async function chromiumOn(host: string): Promise<Browser> {
    const browser = await browserOn(lab, host);
    browsers.push(browser);
    return browser;
  }

  test("two Chromiums on different hosts see and hear each other", async () => {
    test.setTimeout(90_000);
    const ada = await (await contextOn(await chromiumOn("ada"))).newPage();
    await signUp(ada, "Ada");
    const room = await newRoom(ada);
    const grace = await guestIn(await contextOn(await chromiumOn("grace")), room, "Grace");
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
    const ada = await (await contextOn(await chromiumOn("ada"))).newPage();
    await signUp(ada, "Ada");
    const room = await newRoom(ada);
    const firefox = await launchFirefoxIn(lab, "grace", executable);
    browsers.push(firefox);
    const grace = await firefoxGuest(firefox, `${ORIGIN}${room}`, "Grace");
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
    const ada = await (await contextOn(await chromiumOn("ada"))).newPage();
    await signUp(ada, "Ada");
    const room = await newRoom(ada);
    // A Chromium that asks, and a person who says no to both.
    const asking = await chromium.launch({
      executablePath: lab.wrap("grace", chromiumPath),
      args: chromiumArgsAsking,
    });
    browsers.push(asking);
    const linusContext = await contextOn(asking);
    await answerDevicePrompt(linusContext, ORIGIN, { camera: "denied", microphone: "denied" });
    const linus = await guestIn(linusContext, room, "Linus");

    await joinCall(ada);
    await joinCall(linus);
    const alerts = callRegion(linus).getByRole("alert");
    await expect(alerts.filter({ hasText: /camera was refused/ })).toBeVisible();
    await expect(alerts.filter({ hasText: /microphone was refused/ })).toBeVisible();
    await expectMovingVideo(linus, "Ada");
    await expectLiveAudio(linus, "Ada");
  });

  test("someone in Firefox who allows no camera or microphone still sees and hears the call", async () => {
    test.setTimeout(90_000);
    const executable = firefoxPath();
    if (!executable)
      throw new Error(
        "no Firefox here: `node scripts/ensure-browsers.mjs firefox` finds or installs one",
      );
    const ada = await (await contextOn(await chromiumOn("ada"))).newPage();
    await signUp(ada, "Ada");
    const room = await newRoom(ada);
    // Firefox's own "Block new requests" setting for both (e2e/firefox.ts, DeviceAnswer).
    const firefox = await launchFirefoxIn(lab, "grace", executable, "refuse");
    browsers.push(firefox);
    const grace = await firefoxGuest(firefox, `${ORIGIN}${room}`, "Grace");

    await joinCall(ada);
    await firefoxJoinCall(grace);
    for (const device of ["camera", "microphone"])
      await grace.waitForFunction(
        (pattern: string) =>
          [...document.querySelectorAll('section[aria-label="Call"] [role="alert"]')].some((a) =>
            new RegExp(pattern).test(a.textContent ?? ""),
          ),
        {},
        `${device} was refused`,
      );
    await Promise.all([expectMovingVideo(grace, "Ada"), expectLiveAudio(grace, "Ada")]);
    // Ada sees Grace in the call, with nothing to show or hear from her.
    await expect(tile(ada, "Grace")).toBeVisible();
  });
});
