import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bot } from "../bot/bot";
import { eventually, startSfu, type TestSfu } from "./harness";

let sfu: TestSfu;
beforeAll(async () => {
  sfu = await startSfu();
});
afterAll(async () => {
  await sfu?.stop();
});

/** Packets received from one publisher's tracks, per source. */
function fromPeer(bot: Bot, peerId: string) {
  return [...bot.received.values()].filter((t) => t.info?.peerId === peerId && !t.ended);
}

describe("rooms with several participants", () => {
  it("renegotiates as three participants join and one leaves", async () => {
    const a = await sfu.bot("room-3", "A");
    await a.publish({ mic: true, camera: true });
    const b = await sfu.bot("room-3", "B");
    await b.publish({ mic: true, camera: true });
    const c = await sfu.bot("room-3", "C");
    await c.publish({ mic: true });

    // Everyone receives everyone else's tracks, and bytes flow on all of them.
    const flowing = (bot: Bot, peer: Bot, tracks: number) => () =>
      fromPeer(bot, peer.peerId!).length === tracks &&
      fromPeer(bot, peer.peerId!).every((t) => t.packets > 10);
    await a.waitFor(flowing(a, b, 2), 10_000, "A gets B");
    await a.waitFor(flowing(a, c, 1), 10_000, "A gets C");
    await b.waitFor(flowing(b, a, 2), 10_000, "B gets A");
    await b.waitFor(flowing(b, c, 1), 10_000, "B gets C");
    await c.waitFor(flowing(c, a, 2), 10_000, "C gets A");
    await c.waitFor(flowing(c, b, 2), 10_000, "C gets B");
    expect(a.offersAnswered).toBeGreaterThanOrEqual(2);
    expect(a.participants.size).toBe(2);

    const stats = await sfu.stats();
    expect(stats).toMatchObject({ rooms: 1, peers: 3, transports: 6, producers: 5, consumers: 10 });

    // B leaves: A and C see the participant and its tracks go, and keep receiving each other.
    const bId = b.peerId!;
    const offersBefore = a.offersAnswered;
    await b.leave();
    await a.waitFor(() => !a.participants.has(bId), 5_000, "A sees B leave");
    await a.waitFor(() => a.offersAnswered > offersBefore, 5_000, "A renegotiated");
    expect(
      [...a.received.values()].filter((t) => t.info?.peerId === bId).every((t) => t.ended),
    ).toBe(true);
    const before = fromPeer(c, a.peerId!).reduce((n, t) => n + t.packets, 0);
    await c.waitFor(
      () => fromPeer(c, a.peerId!).reduce((n, t) => n + t.packets, 0) > before + 20,
      5_000,
      "C still gets A",
    );
    await eventually(async () => (await sfu.stats()).consumers === 3, 5_000, "consumers of B gone");
    expect(a.errors).toEqual([]);
    expect(c.errors).toEqual([]);
    await a.leave();
    await c.leave();
  });

  it("ends subscribers' tracks when a publisher vanishes without leaving", async () => {
    const pub = await sfu.bot("room-v", "Publisher");
    await pub.publish({ mic: true, camera: true });
    const sub = await sfu.bot("room-v", "Subscriber");
    await sub.waitFor(
      () => sub.received.size === 2 && [...sub.received.values()].every((t) => t.packets > 5),
      10_000,
      "media",
    );
    const pubId = pub.peerId!;
    await pub.close(); // no `leave`: the socket just drops, as a crashed tab's would
    await sub.waitFor(() => !sub.participants.has(pubId), 10_000, "publisher gone");
    await sub.waitFor(
      () => [...sub.received.values()].every((t) => t.ended),
      5_000,
      "tracks ended",
    );
    await sub.waitFor(() => sub.announced.size === 0, 5_000, "unpublished");
    const packets = sub.totalPackets();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sub.totalPackets()).toBe(packets);
    await eventually(async () => (await sfu.stats()).producers === 0, 5_000, "producers gone");
    expect((await sfu.stats()).consumers).toBe(0);
    await sub.leave();
  });

  it("keeps asking for a key frame until one arrives, when requests are lost", async () => {
    const pub = await sfu.bot("room-k", "Publisher");
    // One key frame at the start and then only on request, like a browser's encoder.
    await pub.publish({ camera: { shape: { keyFrameInterval: 1_000_000 } } });
    await new Promise((resolve) => setTimeout(resolve, 300)); // the first key frame is gone
    pub.dropKeyFrameRequests = 4;
    const requestsBefore = pub.keyFrameRequests;
    const sub = await sfu.bot("room-k", "Late viewer");
    await sub.waitFor(
      () => [...sub.received.values()].some((t) => t.keyFrames > 0),
      15_000,
      "a key frame",
    );
    // Only asking again (every half second) got past the lost ones.
    expect(pub.keyFrameRequests - requestsBefore).toBeGreaterThan(4);
    await sub.leave();
    await pub.leave();
  });

  it("forwards the lowest simulcast layer by default and switches on request at a key frame", async () => {
    const pub = await sfu.bot("room-s", "Simulcaster");
    await pub.publish({ camera: { simulcast: true } });
    const sub = await sfu.bot("room-s", "Viewer");
    await sub.waitFor(
      () => [...sub.received.values()].some((t) => t.packets > 20),
      10_000,
      "video",
    );
    const [track] = [...sub.received.values()];
    expect(track!.layer).toBe("low");
    expect(track!.info?.layers).toEqual(["low", "medium", "high"]);
    const lowBytesPerPacket = track!.bytes / track!.packets;
    const requestsBefore = pub.keyFrameRequests;

    await sub.setPreferredLayer(track!.info!.trackId, "high");
    await sub.waitFor(() => track!.layer === "high", 5_000, "layer switch");
    expect(pub.keyFrameRequests).toBeGreaterThan(requestsBefore);
    const packets = track!.packets;
    const bytes = track!.bytes;
    await sub.waitFor(() => track!.packets > packets + 20, 5_000, "high layer packets");
    const highBytesPerPacket = (track!.bytes - bytes) / (track!.packets - packets);
    expect(highBytesPerPacket).toBeGreaterThan(lowBytesPerPacket * 2);
    // One SSRC and no sequence gaps across the switch.
    expect(track!.ssrcs.size).toBe(1);
    expect(track!.gaps).toBe(0);
    await sub.leave();
    await pub.leave();
  });

  it("reports the loudest microphone as active speaker", async () => {
    const quiet = await sfu.bot("room-speak", "Quiet");
    await quiet.publish({ mic: true, micLevel: 127 });
    const loud = await sfu.bot("room-speak", "Loud");
    await loud.publish({ mic: true, micLevel: 25 });
    await quiet.waitFor(() => quiet.activeSpeaker === loud.peerId, 5_000, "active speaker");
    await quiet.leave();
    await loud.leave();
  });
});
