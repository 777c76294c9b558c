/**
 * The browsers as answerers of the SFU's subscribe offers (sfu/sdp.ts): stock Chromium and
 * Firefox ESR accept every kind of renegotiation the SFU makes (tracks added, tracks
 * ended, stopped m-lines recycled, the BUNDLE tag's track ended), keep the DTLS role they
 * took (`active`: the SFU stays the DTLS server), and werift accepts their answers. Then a
 * whole call in Chromium: the participant whose tracks came first (their m-line tags the
 * BUNDLE group) leaves, and a newcomer's tracks arrive on a recycled m-line, with media
 * flowing throughout. sfu/test/aiortc.test.ts does the same with aiortc.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RTCPeerConnection, type RTCRtpTransceiver } from "werift";
import { firefoxPath, launchFirefox } from "../../e2e/firefox";
import { chromiumArgs, chromiumPath } from "../../scripts/chromium";
import { peerConfig } from "../media";
import { SIGNALING_PATH } from "../protocol";
import { bundleMids, describeMedia, endMLine, offerForPeers } from "../sdp";
import { eventually, LOOPBACK, startSfu, type TestSfu } from "./harness";

const root = path.resolve(import.meta.dirname, "../..");

/** Answers an SFU offer the way one browser does. */
type Answerer = (offer: string) => Promise<string>;

/**
 * Runs in the page: answers an offer in the page's one RTCPeerConnection (made on first
 * use). Kept as source text, since Vitest rewrites the module's own `RTCPeerConnection`
 * (werift's) in a function.
 */
const ANSWER_IN_PAGE = `async (offer) => {
  window.pc ??= new RTCPeerConnection();
  await window.pc.setRemoteDescription({ type: "offer", sdp: offer });
  await window.pc.setLocalDescription();
  return window.pc.localDescription.sdp;
}`;
const answerScript = (offer: string) => `(${ANSWER_IN_PAGE})(${JSON.stringify(offer)})`;

let chromiumBrowser: Browser;
const closers: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  // `npm test` finds or installs Chromium before Vitest (scripts/ensure-browsers.mjs).
  if (!existsSync(chromiumPath))
    throw new Error(
      `no Chromium at ${chromiumPath}: \`node scripts/ensure-browsers.mjs chromium\``,
    );
  chromiumBrowser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
  closers.push(() => chromiumBrowser.close());
});

afterAll(async () => {
  await Promise.all(closers.map((close) => close().catch(() => {})));
});

/** Runs the SFU's renegotiations against one browser and checks every offer and answer. */
async function renegotiate(answer: Answerer): Promise<void> {
  // The SFU's subscribe connection as it is configured, ICE-lite included.
  const sfu = new RTCPeerConnection(peerConfig(LOOPBACK, "subscribe", "lite"));
  closers.push(() => sfu.close());
  const add = (kind: "audio" | "video") => sfu.addTransceiver(kind, { direction: "sendonly" });
  const end = (transceiver: RTCRtpTransceiver) => endMLine(sfu, transceiver);
  const negotiate = async () => {
    await sfu.setLocalDescription(await sfu.createOffer());
    const offer = offerForPeers(sfu.localDescription!.sdp);
    const answerSdp = await answer(offer);
    await sfu.setRemoteDescription({ type: "answer", sdp: answerSdp });
    const offered = describeMedia(offer);
    const answered = describeMedia(answerSdp);
    expect(offered.every((m) => m.setup === "actpass" && m.rtcpMux)).toBe(true);
    expect(answered.map((m) => m.mid)).toEqual(offered.map((m) => m.mid));
    // The browser keeps the role it took first, and rejects what the offer stopped.
    expect(answered.filter((m) => m.port !== 0).every((m) => m.setup === "active")).toBe(true);
    expect(answered.map((m) => m.port === 0)).toEqual(offered.map((m) => m.port === 0));
    const live = offered.filter((m) => m.port !== 0).map((m) => m.mid);
    expect([...bundleMids(offer)].sort()).toEqual(live.sort());
    // The tag (the first mid) never changes.
    expect(bundleMids(offer)[0]).toBe("0");
    return offered.map(({ kind, port, mid, direction }) => ({ kind, port, mid, direction }));
  };

  const mic = add("audio");
  const camera = add("video");
  await negotiate();
  end(camera);
  expect(await negotiate()).toMatchObject([
    { mid: "0" },
    { mid: "1", port: 0, direction: "inactive" },
  ]);
  const camera2 = add("video");
  // The stopped m-line is recycled with a new mid (JSEP §5.2.2).
  expect(await negotiate()).toMatchObject([
    { mid: "0" },
    { mid: "2", kind: "video", direction: "sendonly" },
  ]);
  const mic2 = add("audio");
  await negotiate();
  // The tag's track ends: its m-line only goes inactive, and stays.
  end(mic);
  expect(await negotiate()).toEqual([
    { kind: "audio", port: 9, mid: "0", direction: "inactive" },
    { kind: "video", port: 9, mid: "2", direction: "sendonly" },
    { kind: "audio", port: 9, mid: "3", direction: "sendonly" },
  ]);
  add("audio");
  expect((await negotiate()).map((m) => m.mid)).toEqual(["0", "2", "3", "4"]);
  end(mic2);
  end(camera2);
  await negotiate();
  add("audio");
  add("video");
  expect(await negotiate()).toMatchObject([
    { mid: "0", direction: "inactive" },
    { mid: "5", kind: "video", direction: "sendonly" },
    { mid: "6", kind: "audio", direction: "sendonly" },
    { mid: "4", kind: "audio", direction: "sendonly" },
  ]);
}

describe("browsers answer the SFU's offers", () => {
  it("Chromium accepts every renegotiation", { timeout: 60_000 }, async () => {
    const page = await chromiumBrowser.newPage();
    await renegotiate((offer) => page.evaluate(answerScript(offer)) as Promise<string>);
  });

  it("Firefox accepts every renegotiation", { timeout: 60_000 }, async () => {
    const executable = firefoxPath();
    if (!executable)
      throw new Error("no Firefox (apt-get install firefox-esr, or set FIREFOX_PATH)");
    const browser = await launchFirefox(executable);
    closers.push(() => browser.close());
    const page = await browser.newPage();
    await renegotiate((offer) => page.evaluate(answerScript(offer)) as Promise<string>);
  });
});

describe("a Chromium subscriber through leaves and joins", () => {
  let sfu: TestSfu;
  let server: Server;
  beforeAll(async () => {
    sfu = await startSfu();
    const html = readFileSync(path.join(import.meta.dirname, "browser/publisher.html"));
    const client = readFileSync(
      path.join(root, "node_modules/socket.io-client/dist/socket.io.min.js"),
    );
    server = createServer((req, res) => {
      const script = req.url === "/socket.io.min.js";
      res.writeHead(200, { "content-type": script ? "text/javascript" : "text/html" });
      res.end(script ? client : html);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await sfu?.stop();
  });

  type SubscriberPage = {
    subscribe(args: unknown): Promise<void>;
    /** The page's RTCPeerConnection, as much of it as the test reads. */
    subPc: EventTarget & {
      connectionState: string;
      remoteDescription: { sdp: string } | null;
      getStats(): Promise<Map<string, { type: string; mid?: string; packetsReceived?: number }>>;
    };
    subTracks: Array<{ mid: string; trackId: string }>;
    subStates: string[];
  };

  /** Packets received per track id, for the tracks of the last offer. */
  const received = (page: Page) =>
    page.evaluate(async () => {
      const w = window as unknown as SubscriberPage;
      const packets: Record<string, number> = {};
      (await w.subPc.getStats()).forEach((s) => {
        const track = w.subTracks.find((t) => t.mid === s.mid);
        if (s.type === "inbound-rtp" && track) packets[track.trackId] = s.packetsReceived ?? 0;
      });
      return packets;
    });

  async function keepsReceiving(page: Page, trackIds: string[], what: string): Promise<void> {
    const before = await received(page);
    await eventually(
      async () => {
        const now = await received(page);
        return trackIds.every((id) => (now[id] ?? 0) >= (before[id] ?? 0) + 20);
      },
      10_000,
      what,
    );
  }

  it(
    "keeps receiving when the first publisher leaves and receives a newcomer on a recycled m-line",
    { timeout: 60_000 },
    async () => {
      const room = "chromium-renegotiation";
      const [first, second] = [await sfu.bot(room, "First"), await sfu.bot(room, "Second")];
      closers.push(
        () => first.close(),
        () => second.close(),
      );
      await first.publish({ mic: true, camera: true });
      await second.publish({ mic: true, camera: true });
      const page = await chromiumBrowser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (err) => errors.push(err.message));
      await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      await page.evaluate((args) => (window as unknown as SubscriberPage).subscribe(args), {
        url: sfu.url,
        path: SIGNALING_PATH,
        token: await sfu.token({ roomId: room, displayName: "Chromium" }),
        roomId: room,
      });
      await page.evaluate(() => {
        const w = window as unknown as SubscriberPage;
        w.subStates = [w.subPc.connectionState];
        w.subPc.addEventListener("connectionstatechange", () =>
          w.subStates.push(w.subPc.connectionState),
        );
      });
      const tracks = (bot: typeof first) => [
        bot.publishedTrackId("mic")!,
        bot.publishedTrackId("camera")!,
      ];
      await keepsReceiving(page, [...tracks(first), ...tracks(second)], "both publishers");

      // The first publisher's m-lines include the BUNDLE tag's.
      await first.leave();
      await eventually(
        async () => !Object.keys(await received(page)).includes(tracks(first)[0]!),
        10_000,
        "first's tracks gone",
      );
      await keepsReceiving(page, tracks(second), "the second publisher after the first left");

      const newcomer = await sfu.bot(room, "Newcomer");
      closers.push(() => newcomer.close());
      await newcomer.publish({ mic: true, camera: true });
      await keepsReceiving(
        page,
        [...tracks(second), ...tracks(newcomer)],
        "the newcomer, and still the second",
      );
      const mLines = await page.evaluate(
        () =>
          (window as unknown as SubscriberPage).subPc.remoteDescription!.sdp.match(/^m=/gm)!.length,
      );
      // 2 + 2 m-lines, then the newcomer's video recycles the first's stopped camera m-line
      // and its audio is added (the tag's m-line idles): 5, not 6.
      expect(mLines).toBe(5);
      expect(errors).toEqual([]);
      // Connected once (the first entry is the state when the listener came) and never left it.
      const states = await page.evaluate(() => (window as unknown as SubscriberPage).subStates);
      expect(states.slice(states.indexOf("connected"))).toEqual(["connected"]);
    },
  );
});
