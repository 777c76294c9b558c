/**
 * A WebRTC stack that is neither werift nor a browser joins a call: aiortc (Debian's
 * python3-aiortc 1.4, sfu/test/aiortc/peer.py) publishes Opus and VP8, receives the
 * others', and stays connected and receiving through every kind of renegotiation the SFU
 * makes: someone joins, a screen share starts and stops, the first to join leaves (their
 * m-line tags the BUNDLE group), and a newcomer's camera recycles a stopped m-line. aiortc checks offers strictly (`a=setup:actpass` in
 * every offer, `a=rtcp-mux` on every RTP section, ICE credentials everywhere), so this is
 * the test of the SFU's SDP (sfu/sdp.ts; docs/sfu.md, "Standard peers and SDP").
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bot } from "../bot/bot";
import { bundleMids, describeMedia } from "../sdp";
import { AiortcPeer, aiortcMissing, type TrackMedia } from "./aiortc/aiortc-peer";
import { eventually, startSfu, type TestSfu } from "./harness";

const ROOM = "aiortc-room";

let sfu: TestSfu;
const peers: AiortcPeer[] = [];
const bots: Bot[] = [];

beforeAll(async () => {
  // CI installs python3-aiortc (.ci/run); without it this fails, it never skips.
  const missing = aiortcMissing();
  if (missing) throw new Error(missing);
  sfu = await startSfu();
});

afterAll(async () => {
  await Promise.all([...peers.map((p) => p.close()), ...bots.map((b) => b.close())]);
  await sfu?.stop();
});

async function joinAiortc(name: string): Promise<AiortcPeer> {
  const token = await sfu.token({ roomId: ROOM, displayName: name });
  const peer = await AiortcPeer.join({ url: sfu.url, token, roomId: ROOM, host: "127.0.0.1" });
  peers.push(peer);
  return peer;
}

async function joinBot(name: string): Promise<Bot> {
  const bot = await sfu.bot(ROOM, name);
  bots.push(bot);
  return bot;
}

/** The tracks `peer` receives of the given publisher ids' sources, by track id. */
function tracksOf(
  peer: AiortcPeer,
  media: Map<string, TrackMedia>,
  trackIds: string[],
): TrackMedia[] {
  return trackIds.map((id) => {
    const track = media.get(id);
    if (!track) throw new Error(`${peer.peerId} receives no track ${id}`);
    return track;
  });
}

/**
 * Waits until every listed track has gained at least `minGain` of `unit` since now:
 * media that keeps arriving, not just arrived once.
 */
async function keepsReceiving(
  peer: AiortcPeer,
  trackIds: string[],
  unit: "frames" | "packets",
  what: string,
  minGain = 10,
) {
  let before: Map<string, TrackMedia> | undefined;
  await eventually(
    async () => {
      const media = await peer.media();
      if (!trackIds.every((id) => media.has(id))) return false;
      before ??= media;
      return tracksOf(peer, media, trackIds).every(
        (t) => t[unit] - (before!.get(t.trackId)?.[unit] ?? 0) >= minGain,
      );
    },
    10_000,
    `${what}: ${unit} increasing on ${trackIds.join(", ")}`,
  );
}

function publishedIds(bot: Bot, ...sources: Array<"mic" | "camera" | "screen">): string[] {
  return sources.map((source) => {
    const id = bot.publishedTrackId(source);
    if (!id) throw new Error(`${bot.self?.displayName} publishes no ${source}`);
    return id;
  });
}

/** Every offer aiortc got follows RFC 8829/8842/8843 as sfu/sdp.ts promises. */
function expectStandardOffers(peer: AiortcPeer): void {
  for (const offer of peer.offers) {
    const media = describeMedia(offer);
    const bundle = bundleMids(offer);
    for (const section of media) {
      expect(section.setup).toBe("actpass");
      expect(section.rtcpMux).toBe(true);
      expect(section.mid).toBeDefined();
      if (section.port === 0) expect(bundle).not.toContain(section.mid);
      else expect(bundle).toContain(section.mid);
    }
  }
}

describe("an aiortc peer in a call", () => {
  it(
    "publishes, receives and stays through joins, a screen share and leaves",
    { timeout: 90_000 },
    async () => {
      const started = Date.now();
      const alice = await joinAiortc("Alice (aiortc)");
      const aliceTracks = await alice.publish();

      // Someone joins: a werift bot, whose tracks take Alice's first m-lines (one of them
      // tags the BUNDLE group).
      const carol = await joinBot("Carol (bot)");
      await carol.publish({ mic: true, camera: true });
      const carolTracks = publishedIds(carol, "mic", "camera");
      await keepsReceiving(alice, carolTracks, "packets", "Alice receives Carol");
      await carol.waitFor(
        () => aliceTracks.every((id) => (carol.received.get(id)?.packets ?? 0) > 20),
        10_000,
        "Carol receives Alice",
      );
      const offersAtStart = alice.offersAnswered;

      // Someone else joins: another aiortc peer; each decodes the other's audio and video.
      const bob = await joinAiortc("Bob (aiortc)");
      const bobTracks = await bob.publish();
      await keepsReceiving(alice, bobTracks, "frames", "Alice decodes Bob");
      await keepsReceiving(bob, aliceTracks, "frames", "Bob decodes Alice");
      await keepsReceiving(
        alice,
        carolTracks,
        "packets",
        "Alice still receives Carol after Bob joined",
      );

      // A screen share starts and stops.
      const dave = await joinBot("Dave (bot, screen)");
      await dave.publish({ screen: true });
      const [screen] = publishedIds(dave, "screen");
      await keepsReceiving(alice, [screen!], "packets", "Alice receives Dave's screen");
      await dave.unpublish("screen");
      await eventually(
        async () => !(await alice.media()).has(screen!),
        10_000,
        "the screen m-line stopped",
      );
      await keepsReceiving(
        alice,
        [...bobTracks, ...carolTracks],
        "packets",
        "Alice receives after the share stopped",
      );
      await keepsReceiving(alice, bobTracks, "frames", "Alice decodes Bob after the share stopped");

      // The first to join leaves, their m-lines end (the BUNDLE tag's goes inactive, the
      // other is stopped), and a newcomer's camera recycles a stopped m-line.
      const sectionsBefore = describeMedia(alice.offers.at(-1)!).length;
      await carol.leave();
      await eventually(
        async () => {
          const media = await alice.media();
          return carolTracks.every((id) => !media.has(id));
        },
        10_000,
        "Carol's m-lines ended",
      );
      await keepsReceiving(alice, bobTracks, "frames", "Alice decodes Bob after Carol left");
      const erin = await joinBot("Erin (bot)");
      await erin.publish({ mic: true, camera: true });
      const erinTracks = publishedIds(erin, "mic", "camera");
      await keepsReceiving(alice, erinTracks, "packets", "Alice receives Erin");
      // Erin's camera takes a stopped video m-line; her microphone gets a new one, since
      // the only ended audio m-line is the BUNDLE tag's, which idles.
      expect(describeMedia(alice.offers.at(-1)!).length).toBe(sectionsBefore + 1);
      await keepsReceiving(alice, bobTracks, "frames", "Alice decodes Bob at the end");
      await keepsReceiving(bob, aliceTracks, "frames", "Bob decodes Alice at the end");

      expect(alice.offersAnswered - offersAtStart).toBeGreaterThanOrEqual(4);
      expectStandardOffers(alice);
      expectStandardOffers(bob);
      for (const peer of [alice, bob]) {
        expect(peer.errors).toEqual([]);
        // A full ICE agent facing an ICE-lite SFU controls both connections (RFC 8445 §6.1.1).
        expect(await peer.connections()).toEqual({
          connections: { publish: "connected", subscribe: "connected" },
          iceRoles: { publish: "controlling", subscribe: "controlling" },
        });
        // Never lost. aiortc's aggregate state shows "connecting" for a moment whenever an
        // offer adds an m-line: it makes the new transceiver its own DTLS transport before
        // BUNDLE folds it into the running one. The media checks above show nothing stopped.
        for (const states of Object.values(peer.states)) {
          expect(states.filter((s) => s !== "connecting" && s !== "connected")).toEqual([]);
        }
      }
      console.info(
        `aiortc call: ${alice.offersAnswered} subscribe offers answered in ${Date.now() - started} ms`,
      );
    },
  );
});
