import { expect, type Browser, type BrowserContext, type Page, test } from "@playwright/test";
import { Lab, labAvailable } from "../test/support/netns";
import {
  homeTrusting,
  startTurn,
  type Turn,
  TURN_PORT,
  TURNS_PORT,
  turnAvailable,
} from "../test/support/turn";
import { delayUdp } from "../test/support/udp-delay";
import { callRegion, expectLiveAudio, expectMovingVideo, joinCall } from "./call-support";
import {
  connectionSummary,
  frameTimes,
  iceUfrags,
  longestGap,
  receivedFrom,
  type Received,
  resumedAt,
  selectedPaths,
  sentVideo,
  watchTile,
} from "./call-stats";
import { browserOn, contextOn, type Parley, startParley, WEB_PORT, webRelay } from "./lab-call";
import { guestIn, newRoom, signUp } from "./support";

/**
 * Calls over real networks built inside this machine (issue 8): Parley runs as `npm start`
 * runs it on the lab's `server`; each person's Chromium (default settings) on a host of
 * their own — Ada on a dual-stack address with default routes, Home behind a NAT, Fw
 * behind a firewall that lets nothing through but the TURN server (a real coturn on
 * `turn`). No STUN server is configured. One lab, one server, scenarios in order; each
 * prints its figures as one JSON line for the record (docs/sfu.md). Not serial: after a
 * failure Playwright starts a new worker, whose `beforeAll` builds everything again and
 * puts Ada and Home back in the call, so one failed scenario does not hide the others.
 */

// The measurements need the two cores: no trace screencast (it starves remote video of
// paints) and no screenshots.
test.use({ trace: "off", screenshot: "off" });

const report = (scenario: string, figures: object) =>
  console.info(JSON.stringify({ "call-network": scenario, ...figures }));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The pages' console, kept for a failing test's attachments. */
const consoleLog: string[] = [];

/** Everything a person's page did that would mean it left and rejoined the call. */
function watchRejoins(page: Page, name: string): { tickets: number; lost: string[] } {
  const seen = { tickets: 0, lost: [] as string[] };
  page.on("console", (message) => {
    consoleLog.push(`${new Date().toISOString()} ${name}: ${message.text()}`);
    if (message.text().includes("connection lost")) seen.lost.push(message.text());
  });
  page.on("request", (request) => {
    if (
      request.method() === "POST" &&
      /^\/api\/rooms\/[^/]+\/call$/.test(new URL(request.url()).pathname)
    )
      seen.tickets += 1;
  });
  return seen;
}

/**
 * When the named tile's video resumed after `since` (`resumedAt`), polled through `at()`.
 * If the tile was replaced meanwhile (its person rejoined), the new tile's video is
 * watched from when it is found, and counts from its first frame then.
 */
function recovery(page: Page, name: string, since: number) {
  const watch = {
    replaced: false,
    async at(): Promise<number | undefined> {
      const times = await frameTimes(page, name);
      if (times === null) {
        watch.replaced = true;
        await watchTile(page, name);
        return undefined;
      }
      if (!watch.replaced) return resumedAt(times, since);
      return times.length > 10 ? times[0] : undefined;
    },
  };
  return watch;
}

/** Seconds, to the millisecond, for the record. */
const s = (ms: number) => Math.round(ms) / 1000;

test.describe("calls over real networks", () => {
  let lab: Lab;
  let turn: Turn;
  let parley: Parley;
  const browsers: Browser[] = [];
  let ada: Page;
  let home: Page;
  let homeContext: BrowserContext;
  let room: string;
  let adaRejoins: ReturnType<typeof watchRejoins>;
  let homeRejoins: ReturnType<typeof watchRejoins>;
  /** From Ada's `Join call` to both seeing the other's video move. */
  let joinedWithinS: number;

  const parleyEnv = (extra: Record<string, string> = {}) => ({
    CALL_TURN_URLS: turn.urls.join(","),
    CALL_TURN_SECRET: turn.secret,
    ...extra,
  });

  test.beforeAll(async () => {
    test.setTimeout(240_000);
    // Fail, never skip: a run without what a lab needs has not tested calls on a network.
    if (!labAvailable() || !turnAvailable())
      throw new Error("these tests need root, nftables and coturn (.ci/run installs them)");
    lab = await Lab.create([
      { name: "server" },
      { name: "turn" },
      { name: "ada" },
      { name: "home", nat: true },
      { name: "fw" },
    ]);
    turn = await startTurn(lab, "turn");
    parley = await startParley(lab, "server", parleyEnv());
    for (const host of ["ada", "home", "fw"]) await webRelay(lab, host, "server");
    const [adaBrowser, homeBrowser] = await Promise.all([
      browserOn(lab, "ada"),
      browserOn(lab, "home"),
    ]);
    browsers.push(adaBrowser!, homeBrowser!);
    ada = await (await contextOn(adaBrowser!)).newPage();
    await signUp(ada, "Ada");
    room = await newRoom(ada);
    homeContext = await contextOn(homeBrowser!);
    home = await guestIn(homeContext, room, "Home");
    adaRejoins = watchRejoins(ada, "Ada");
    homeRejoins = watchRejoins(home, "Home");
    const started = Date.now();
    await joinCall(ada);
    await joinCall(home);
    await Promise.all([expectMovingVideo(ada, "Home"), expectMovingVideo(home, "Ada")]);
    joinedWithinS = s(Date.now() - started);
  });

  test.afterEach(async ({}, testInfo) => {
    if (testInfo.status === testInfo.expectedStatus) return;
    if (parley) await testInfo.attach("server log", { body: parley.log() });
    await testInfo.attach("browser console", { body: consoleLog.join("\n") });
  });

  test.afterAll(async () => {
    for (const browser of browsers) await browser.close().catch(() => {});
    await parley?.stop();
    await lab?.destroy();
  });

  test("a participant behind NAT, with no STUN server, completes a call both ways", async () => {
    test.setTimeout(60_000);
    await Promise.all([expectLiveAudio(ada, "Home"), expectLiveAudio(home, "Ada")]);
    // Home's media goes straight through the NAT, not through TURN: the SFU learned the
    // NAT's address from Home's checks, and Home learned it from the SFU's answers (a
    // peer-reflexive local candidate: the NAT's address, 10.77.1.1 towards the server).
    const paths = await selectedPaths(home);
    expect(paths).toHaveLength(2);
    for (const path of paths) expect(["host", "prflx"]).toContain(path.type);
    report("nat", {
      bothWaysWithinS: joinedWithinS,
      homePaths: paths,
      adaPaths: await selectedPaths(ada),
    });
  });

  test("3 % loss and 60 ± 20 ms jitter: received video keeps playing, audio stays continuous, losses are resent", async () => {
    test.setTimeout(90_000);
    const window = 20_000;
    const link = await delayUdp(lab, "home", { delayMs: 60, jitterMs: 20, lossPercent: 3 });
    await lab.impair("home", { lossPercent: 3 });
    try {
      await sleep(3_000);
      const views = [
        { page: ada, from: "Home", direction: "home→ada" },
        { page: home, from: "Ada", direction: "ada→home" },
      ];
      // Read every 500 ms: a freeze's duration is added when it ends, so the largest growth
      // of totalFreezesDuration between two readings bounds the longest single freeze.
      const readings: (Received | null)[][] = views.map(() => []);
      for (const v of views) expect(await watchTile(v.page, v.from)).toBe(true);
      const sentBefore = await sentVideo(home);
      const start = Date.now();
      while (Date.now() - start < window) {
        for (const [i, v] of views.entries()) readings[i]!.push(await receivedFrom(v.page, v.from));
        await sleep(500);
      }
      const end = Date.now();
      const sentAfter = await sentVideo(home);
      report("loss-jitter-link", await link.counters());
      // Every direction's figures are reported before any is checked.
      const checks: (() => void)[] = [];
      for (const [i, v] of views.entries()) {
        const list = readings[i]!;
        expect(
          list.every((r) => r !== null),
          `${v.direction}: the tile's media stayed`,
        ).toBe(true);
        const stats = list as Received[];
        const [b, after] = [stats[0]!, stats.at(-1)!];
        let longestFreeze = 0;
        let sizeChanges = 0;
        for (let k = 1; k < stats.length; k++) {
          const [p, c] = [stats[k - 1]!.video, stats[k]!.video];
          if (c.freezeCount > p.freezeCount)
            longestFreeze = Math.max(
              longestFreeze,
              c.totalFreezesDuration - p.totalFreezesDuration,
            );
          if (c.frameWidth !== p.frameWidth) sizeChanges += 1;
        }
        const times = (await frameTimes(v.page, v.from))!;
        const seconds = (end - start) / 1000;
        const samples = after.audio.totalSamplesReceived - b.audio.totalSamplesReceived;
        const concealed =
          after.audio.concealedSamples -
          after.audio.silentConcealedSamples -
          (b.audio.concealedSamples - b.audio.silentConcealedSamples);
        const figures = {
          direction: v.direction,
          windowS: s(end - start),
          decodedFps:
            Math.round(((after.video.framesDecoded - b.video.framesDecoded) / seconds) * 10) / 10,
          freezeCount: after.video.freezeCount - b.video.freezeCount,
          totalFreezesDurationS:
            Math.round((after.video.totalFreezesDuration - b.video.totalFreezesDuration) * 1000) /
            1000,
          longestFreezeAtMostS: Math.round(longestFreeze * 1000) / 1000,
          // Between frames the page painted (requestVideoFrameCallback): includes this
          // machine's rendering stalls, which are not the network's.
          longestPaintGapMs: longestGap(times, start, end),
          videoPacketsLost: after.video.packetsLost - b.video.packetsLost,
          videoPacketsReceived: after.video.packetsReceived - b.video.packetsReceived,
          nacksSent: after.video.nackCount - b.video.nackCount,
          rtxReceived:
            after.video.retransmittedPacketsReceived - b.video.retransmittedPacketsReceived,
          plisSent: after.video.pliCount - b.video.pliCount,
          frameWidth: after.video.frameWidth,
          // Layer switches the SFU made (each waits for a key frame of the new layer).
          sizeChanges,
          keyFrames: after.video.keyFramesDecoded - b.video.keyFramesDecoded,
          audioConcealedRatio: Math.round((concealed / Math.max(1, samples)) * 10_000) / 10_000,
          audioConcealmentEvents: after.audio.concealmentEvents - b.audio.concealmentEvents,
        };
        report("loss-jitter", figures);
        checks.push(() => {
          expect(
            figures.audioConcealedRatio,
            `${v.direction}: audio stays continuous`,
          ).toBeLessThan(0.1);
          // Both ways: Home's lossy uplink too (the SFU moves off a layer the publisher paused
          // within 0.3 s, and asks for a key frame when a lost packet is not resent in time;
          // docs/sfu.md, "NACK and retransmission").
          expect(
            figures.longestFreezeAtMostS,
            `${v.direction}: no freeze longer than 1 s`,
          ).toBeLessThan(1);
          expect(figures.decodedFps, `${v.direction}: video keeps playing`).toBeGreaterThan(10);
          // The SFU answers a subscriber's NACKs over RTX (docs/sfu.md, "NACK and
          // retransmission"); Ada's own link loses nothing, so only Home needs it.
          if (v.page === home)
            expect(figures.rtxReceived, "RTX to the subscriber is used").toBeGreaterThan(0);
        });
      }
      const rtx = {
        rtxNegotiated: sentAfter.rtxNegotiated,
        nacksReceived: sentAfter.nackCount - sentBefore.nackCount,
        retransmittedPacketsSent:
          sentAfter.retransmittedPacketsSent - sentBefore.retransmittedPacketsSent,
      };
      report("loss-jitter-retransmission", rtx);
      for (const check of checks) check();
      // Lost packets are sent again when the SFU asks (NACK). Not over RTX: the SFU does
      // not negotiate it yet (docs/sfu.md, "NACK and retransmission").
      expect(rtx.nacksReceived).toBeGreaterThan(0);
      expect(rtx.retransmittedPacketsSent).toBeGreaterThan(0);
    } finally {
      await link.stop();
      await lab.impair("home", { lossPercent: 0 });
    }
  });

  test("a 5 s blackout: media resumes within 5 s, without a rejoin or a lost tile", async () => {
    test.setTimeout(60_000);
    expect(await watchTile(ada, "Home")).toBe(true);
    expect(await watchTile(home, "Ada")).toBe(true);
    const ufrags = await iceUfrags(home);
    const tickets = homeRejoins.tickets;
    await lab.impair("home", { blackout: true });
    await sleep(5_000);
    await lab.impair("home", { blackout: false });
    const back = Date.now();
    const watches = [recovery(ada, "Home", back), recovery(home, "Ada", back)];
    const resumed = () => Promise.all(watches.map((w) => w.at()));
    await expect
      .poll(async () => (await resumed()).every((t) => t !== undefined), { timeout: 45_000 })
      .toBe(true);
    const [atAda, atHome] = await resumed();
    const restarted = await iceUfrags(home);
    expect(restarted).toHaveLength(ufrags.length);
    const figures = {
      homeToAdaS: s(atAda! - back),
      adaToHomeS: s(atHome! - back),
      // Whether each connection (publish, subscribe) restarted ICE: only one Chromium
      // declared `disconnected` needs it; over the same path it often resumes without.
      iceRestarted: ufrags.map((ufrag, i) => restarted[i] !== ufrag),
      rejoined: homeRejoins.tickets > tickets || homeRejoins.lost.length > 0,
      tileReplaced: watches.map((w) => w.replaced),
    };
    report("blackout-5s", figures);
    expect(figures.tileReplaced, "no one's tile disappeared").toEqual([false, false]);
    expect(homeRejoins.lost).toEqual([]);
    expect(homeRejoins.tickets).toBe(tickets);
    expect(figures.homeToAdaS).toBeLessThanOrEqual(5);
    expect(figures.adaToHomeS).toBeLessThanOrEqual(5);
  });

  test("a link dead for 40 s: the participant rejoins by itself when it returns, and is seen again", async () => {
    test.setTimeout(150_000);
    const tiles = (page: Page, name: string) =>
      callRegion(page).getByRole("group", { name, exact: true }).count();
    const lost = homeRejoins.lost.length;
    const tickets = homeRejoins.tickets;
    await lab.impair("home", { blackout: true });
    const dead = Date.now();
    // ICE restarts cannot bring it back: after 30 s Home's client gives the session up.
    await expect
      .poll(() => homeRejoins.lost.length > lost, { timeout: 45_000, intervals: [1_000] })
      .toBe(true);
    const gaveUpS = s(Date.now() - dead);
    await sleep(Math.max(0, 40_000 - (Date.now() - dead)));
    await lab.impair("home", { blackout: false });
    const back = Date.now();
    // Home rejoins as a new participant, by itself; both see and hear each other again, and
    // Ada ends with one tile for Home (the old session's is dropped by the SFU).
    await Promise.all([
      expectMovingVideo(home, "Ada", 45_000),
      expect.poll(() => tiles(ada, "Home"), { timeout: 45_000 }).toBe(1),
    ]);
    const homeSeesAdaS = s(Date.now() - back);
    await expectMovingVideo(ada, "Home", 45_000);
    const adaSeesHomeS = s(Date.now() - back);
    await Promise.all([expectLiveAudio(ada, "Home"), expectLiveAudio(home, "Ada")]);
    report("dead-link-40s", {
      gaveUpAfterS: gaveUpS,
      homeSeesAdaS,
      adaSeesHomeS,
      tickets: homeRejoins.tickets - tickets,
      lost: homeRejoins.lost.slice(lost),
    });
    expect(homeRejoins.tickets, "Home fetched a new call ticket").toBeGreaterThan(tickets);
    expect(gaveUpS, "the session is given up after 30 s, not before").toBeGreaterThanOrEqual(30);
  });

  test("through coturn: only the TURN server reachable, relayed over TCP, then UDP once it opens, then TCP, then TLS", async () => {
    test.setTimeout(240_000);
    // Home sits this one out (two cores); Ada stays.
    await callRegion(home).getByRole("button", { name: "Leave call" }).click();
    const fw = lab.host("fw");
    const web = lab.host("server").ipv4[0]!;
    /** The router lets Fw reach Parley's web port and the TURN server's `allowed`, nothing else. */
    const firewall = (allowed: string) =>
      lab.nft(`
        table inet fw_only_turn
        flush table inet fw_only_turn
        table inet fw_only_turn {
          chain forward {
            type filter hook forward priority -10; policy accept;
            iifname "${fw.uplink}" ip daddr ${web} tcp dport ${WEB_PORT} accept
            oifname "${fw.uplink}" ip saddr ${web} tcp sport ${WEB_PORT} accept
            iifname "${fw.uplink}" ip daddr ${turn.address} ${allowed} accept
            oifname "${fw.uplink}" ip saddr ${turn.address} ${allowed.replace("dport", "sport")} accept
            iifname "${fw.uplink}" drop
            oifname "${fw.uplink}" drop
          }
        }`);
    // Fw starts where only TCP reaches the TURN server, so its connections settle on TCP.
    const tcpOnly = `tcp dport { ${TURN_PORT}, ${TURNS_PORT} }`;
    await firewall(tcpOnly);
    const browser = await browserOn(
      lab,
      "fw",
      await homeTrusting(`${lab.dir}/home-fw`, turn.certificate),
    );
    browsers.push(browser);
    const page = await guestIn(await contextOn(browser), room, "Fw");
    watchRejoins(page, "Fw");
    await joinCall(page);
    const phases = [
      { relayProtocol: "tcp", allowed: tcpOnly },
      // UDP opens: the client offers each connection UDP again (an ICE restart after 10 s
      // on TCP; lib/call/client/session.ts), so both move to the cheaper path by themselves.
      { relayProtocol: "udp", allowed: "meta l4proto { udp, tcp }" },
      { relayProtocol: "tcp", allowed: tcpOnly },
      { relayProtocol: "tls", allowed: `tcp dport ${TURNS_PORT}` },
    ];
    for (const phase of phases) {
      const since = Date.now();
      await firewall(phase.allowed);
      try {
        await expect
          .poll(
            async () => {
              const paths = await selectedPaths(page);
              return (
                paths.length === 2 &&
                paths.every((p) => p.type === "relay" && p.relayProtocol === phase.relayProtocol)
              );
            },
            { timeout: 60_000, message: `Fw relays over ${phase.relayProtocol}` },
          )
          .toBe(true);
        await Promise.all([
          expectMovingVideo(page, "Ada"),
          expectMovingVideo(ada, "Fw"),
          expectLiveAudio(page, "Ada"),
        ]);
      } catch (err) {
        // Printed, not only attached: a CI log is often all that is left of a failed run.
        report("turn-failed", {
          relayProtocol: phase.relayProtocol,
          afterS: s(Date.now() - since),
          paths: await selectedPaths(page),
          fw: await connectionSummary(page),
          ada: await connectionSummary(ada),
          console: consoleLog.slice(-30),
        });
        throw err;
      }
      report("turn", {
        relayProtocol: phase.relayProtocol,
        bothWaysWithinS: s(Date.now() - since),
        paths: await selectedPaths(page),
      });
    }
    await callRegion(page).getByRole("button", { name: "Leave call" }).click();
    await browser.close();
    await joinCall(home);
    await Promise.all([expectMovingVideo(ada, "Home"), expectMovingVideo(home, "Ada")]);
  });

  test("the participant's address changes mid-call: ICE restart, media back within 5 s", async () => {
    test.setTimeout(90_000);
    expect(await watchTile(ada, "Home")).toBe(true);
    expect(await watchTile(home, "Ada")).toBe(true);
    const ufrags = await iceUfrags(ada);
    const tickets = adaRejoins.tickets;
    const old = { v4: lab.host("ada").ipv4[0]!, v6: lab.host("ada").ipv6[0]! };
    const fresh = { v4: await lab.addAddress("ada", 4), v6: await lab.addAddress("ada", 6) };
    await lab.removeAddress("ada", old.v4);
    await lab.removeAddress("ada", old.v6);
    const changed = Date.now();
    const watches = [recovery(ada, "Home", changed), recovery(home, "Ada", changed)];
    const resumed = () => Promise.all(watches.map((w) => w.at()));
    await expect
      .poll(async () => (await resumed()).every((t) => t !== undefined), { timeout: 60_000 })
      .toBe(true);
    const [atAda, atHome] = await resumed();
    const paths = await selectedPaths(ada);
    const restarted = await iceUfrags(ada);
    const figures = {
      homeToAdaS: s(atAda! - changed),
      adaToHomeS: s(atHome! - changed),
      iceRestarted: ufrags.map((ufrag, i) => restarted[i] !== ufrag),
      rejoined: adaRejoins.tickets > tickets || adaRejoins.lost.length > 0,
      tileReplaced: watches.map((w) => w.replaced),
      paths,
    };
    report("address-change", figures);
    // The old address is gone; a local candidate learned from the SFU's answers (prflx) has
    // its address hidden by the browser ("").
    for (const path of paths) expect(["", fresh.v4, fresh.v6]).toContain(path.address);
    expect(figures.rejoined, "recovered without a rejoin").toBe(false);
    expect(figures.tileReplaced).toEqual([false, false]);
    expect(figures.homeToAdaS).toBeLessThanOrEqual(5);
    expect(figures.adaToHomeS).toBeLessThanOrEqual(5);
  });

  test("relay-only (CALL_ICE_TRANSPORT_POLICY=relay): every connection goes through TURN, and the call sees and is seen", async () => {
    test.setTimeout(120_000);
    await parley.stop();
    parley = await startParley(lab, "server", parleyEnv({ CALL_ICE_TRANSPORT_POLICY: "relay" }));
    const started = Date.now();
    for (const page of [ada, home]) await page.reload();
    await joinCall(ada);
    await joinCall(home);
    await Promise.all([expectMovingVideo(ada, "Home"), expectMovingVideo(home, "Ada")]);
    await Promise.all([expectLiveAudio(ada, "Home"), expectLiveAudio(home, "Ada")]);
    const paths = { ada: await selectedPaths(ada), home: await selectedPaths(home) };
    report("relay-only", { bothWaysWithinS: s(Date.now() - started), ...paths });
    for (const list of Object.values(paths)) {
      expect(list).toHaveLength(2);
      for (const path of list) expect(path).toMatchObject({ type: "relay", address: turn.address });
    }
  });
});
