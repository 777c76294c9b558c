/**
 * Media workers (docs/sfu.md, "Workers"): placement, the pipe's framing, a room spread
 * over two workers (every track piped, layer switches and key frames across the pipe,
 * mutes, leaves), and a worker crash that costs only its own calls.
 */
import { MessageChannel } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bot } from "../bot/bot";
import type { MediaPacket } from "../media-packet";
import { decodePacket, encodePacket, PipeLink } from "../pipe";
import type { LayerKey } from "../producer";
import { placePeer, type WorkerLoad } from "../workers";
import { eventually, startSfu, type TestSfu } from "./harness";

const workers = (...peers: Array<number | null>): WorkerLoad[] =>
  peers.map((p, index) => ({ index, alive: p !== null, peers: p ?? 0 }));

describe("placePeer", () => {
  it("puts a new room on the least-loaded live worker", () => {
    expect(placePeer(new Map(), workers(5, 2, 3), 10)).toBe(1);
    expect(placePeer(new Map(), workers(5, null, 3), 10)).toBe(2);
    expect(placePeer(new Map(), workers(null, null), 10)).toBeUndefined();
  });

  it("keeps a room on its worker until it has peersPerWorker there", () => {
    // The room has 3 on worker 0, which is busier than worker 1: it still stays.
    expect(placePeer(new Map([[0, 3]]), workers(9, 0), 4)).toBe(0);
    // Full there: it spreads to the least-loaded worker it is not on.
    expect(placePeer(new Map([[0, 4]]), workers(9, 6, 2), 4)).toBe(2);
    // On two workers, one with room: that one.
    expect(
      placePeer(
        new Map([
          [0, 4],
          [2, 1],
        ]),
        workers(9, 0, 9),
        4,
      ),
    ).toBe(2);
  });

  it("puts an outgrown room that is everywhere on its least-loaded worker, and skips dead ones", () => {
    const room = new Map([
      [0, 4],
      [1, 4],
    ]);
    expect(placePeer(room, workers(7, 5), 4)).toBe(1);
    expect(placePeer(room, workers(7, null), 4)).toBe(0);
  });
});

describe("the pipe's packet framing", () => {
  it("carries every field a consumer uses, and the receive time across threads", () => {
    const payload = Buffer.from([0x90, 0x80, 0x12, 0x34, 1, 2, 3]);
    const packet: MediaPacket = {
      payload,
      sequenceNumber: 65535,
      timestamp: 0xfffffff0,
      marker: true,
      keyFrame: true,
      receivedAt: 1234.5,
      pictureIdAt: 2,
      pictureIdLong: true,
      tl0PicIdxAt: -1,
    };
    const decoded = decodePacket(encodePacket(7, "medium", packet, 42));
    expect(decoded.pipe).toBe(7);
    expect(decoded.layer).toBe("medium");
    expect(decoded.level).toBe(42);
    expect(decoded.packet).toMatchObject({
      sequenceNumber: 65535,
      timestamp: 0xfffffff0,
      marker: true,
      keyFrame: true,
    });
    expect(decoded.packet.receivedAt).toBeCloseTo(1234.5, 3);
    expect([...decoded.packet.payload]).toEqual([...payload]);
    const audio = decodePacket(encodePacket(1, null, { ...packet, marker: false }, -1));
    expect(audio).toMatchObject({ layer: null, level: -1, packet: { marker: false } });
  });
});

describe("a pipe link", () => {
  it("posts a turn's packets as one message, ahead of a control message, and hands them on in order", async () => {
    const { port1, port2 } = new MessageChannel();
    const origin = new PipeLink(1, port1, () => undefined);
    const downstream = new PipeLink(0, port2, () => undefined);
    const messages: unknown[] = [];
    port2.on("message", (m: unknown) => messages.push(m));
    const track = downstream.open({
      trackId: "t",
      peerId: "p",
      source: "mic",
      kind: "audio",
      muted: false,
      layers: [],
    });
    const got: Array<{ seq: number; layer: LayerKey }> = [];
    track.attach(
      { forward: (packet, layer) => got.push({ seq: packet.sequenceNumber, layer }) },
      null,
    );
    const packet = (sequenceNumber: number): MediaPacket => ({
      payload: Buffer.from([1, 2, 3]),
      sequenceNumber,
      timestamp: 0,
      marker: false,
      keyFrame: false,
      receivedAt: 0,
      pictureIdAt: -1,
      pictureIdLong: false,
      tl0PicIdxAt: -1,
    });
    for (const seq of [10, 11, 12])
      origin.postPacket(encodePacket(track.pipe, null, packet(seq), -1));
    origin.post({ t: "layers", pipe: track.pipe, layers: [] });
    origin.postPacket(encodePacket(track.pipe, null, packet(13), -1));
    await eventually(() => got.length === 4, 2_000, "packets through the pipe");
    expect(got.map((g) => g.seq)).toEqual([10, 11, 12, 13]);
    expect(got.every((g) => g.layer === null)).toBe(true);
    // One message for the three, then the control message, then the last packet on its own.
    expect(
      messages.slice(0, 3).map((m) => (Array.isArray(m) ? m.length : (m as { t: string }).t)),
    ).toEqual([3, "layers", 1]);
    origin.close();
    downstream.close();
  });
});

/** Tracks of `peer` that `bot` receives, not ended. */
function fromPeer(bot: Bot, peerId: string) {
  return [...bot.received.values()].filter((t) => t.info?.peerId === peerId && !t.ended);
}

describe("a room spread over two workers", () => {
  let sfu: TestSfu;
  beforeAll(async () => {
    sfu = await startSfu({ SFU_WORKERS: "2", SFU_ROOM_PEERS_PER_WORKER: "2" });
  });
  afterAll(async () => {
    await sfu?.stop();
  });

  it("pipes every track once: everyone receives everyone, switches layers and gets key frames", async () => {
    const bots: Bot[] = [];
    for (const name of ["A", "B", "C", "D"]) {
      const bot = await sfu.bot("spread", name);
      await bot.publish({ mic: true, camera: { simulcast: true } });
      bots.push(bot);
    }
    // Two on each worker.
    const stats = await sfu.stats();
    expect(stats.workers.map((w) => w.peers)).toEqual([2, 2]);
    expect(stats.workers.map((w) => w.rooms)).toEqual([1, 1]);
    expect(stats.rooms).toBe(1);

    for (const bot of bots)
      for (const other of bots) {
        if (other === bot) continue;
        await bot.waitFor(
          () =>
            fromPeer(bot, other.peerId!).length === 2 &&
            fromPeer(bot, other.peerId!).every((t) => t.packets > 10),
          10_000,
          `${bot.self?.displayName} gets ${other.self?.displayName}`,
        );
      }
    for (const bot of bots) expect(bot.participants.size).toBe(3);

    // A (worker 0) asks for D's (worker 1) high layer: the key frame request crosses the
    // pipe, the high layer starts flowing through it, numbering stays continuous.
    const [a, , , d] = bots as [Bot, Bot, Bot, Bot];
    const camera = fromPeer(a, d.peerId!).find((t) => t.info?.kind === "video")!;
    expect(camera.layer).toBe("low");
    const requestsBefore = d.keyFrameRequests;
    await a.setPreferredLayer(camera.info!.trackId, "high");
    // Periodic key frames (every 60 frames) would switch it too, later: the request is the point.
    await d.waitFor(() => d.keyFrameRequests > requestsBefore, 1_500, "D asked for a key frame");
    await a.waitFor(() => camera.layer === "high", 10_000, "A switched to D's high layer");
    const packets = camera.packets;
    await a.waitFor(() => camera.packets > packets + 30, 5_000, "high layer flowing");
    expect(camera.ssrcs.size).toBe(1);
    expect(camera.timestampRegressions).toBe(0);
    expect(camera.pictureIdJumps).toBe(0);

    // A mute on worker 1 reaches worker 0's participants.
    await d.signaling.request("setTrackMuted", {
      trackId: d.publishedTrackId("mic")!,
      muted: true,
    });
    await a.waitFor(
      () => a.announced.get(d.publishedTrackId("mic")!)?.muted === true,
      5_000,
      "A sees D muted",
    );

    // D leaves: the others on both workers see it go, its pipes close, the rest flows on.
    const dId = d.peerId!;
    await d.leave();
    for (const bot of bots.slice(0, 3)) {
      await bot.waitFor(() => !bot.participants.has(dId), 5_000, "D gone");
      await bot.waitFor(() => fromPeer(bot, dId).length === 0, 5_000, "D's tracks ended");
    }
    const [, b, c] = bots as [Bot, Bot, Bot];
    const before = fromPeer(a, c.peerId!).reduce((n, t) => n + t.packets, 0);
    await a.waitFor(
      () => fromPeer(a, c.peerId!).reduce((n, t) => n + t.packets, 0) > before + 20,
      5_000,
      "A still gets C across the pipe",
    );
    for (const bot of bots) expect(bot.errors).toEqual([]);
    await Promise.all([a.leave(), b.leave(), c.leave()]);
    await eventually(async () => (await sfu.stats()).peers === 0, 5_000, "everyone gone");
    const after = await sfu.stats();
    expect(after).toMatchObject({ rooms: 0, producers: 0, consumers: 0, transports: 0 });
  });

  it("offers tracks that arrive from another worker one message after the other", async () => {
    // Bob joins on worker 1 first; Alice's two tracks then reach worker 1 as two changes,
    // the second while the offer for the first is still being made.
    const alice = await sfu.bot("two-changes", "Alice");
    const x = await sfu.bot("two-changes", "X");
    const bob = await sfu.bot("two-changes", "Bob");
    expect((await sfu.stats()).workers.map((w) => w.peers)).toEqual([2, 1]);
    await alice.publish({ mic: true, camera: true });
    await bob.waitFor(
      () =>
        fromPeer(bob, alice.peerId!).length === 2 &&
        fromPeer(bob, alice.peerId!).every((t) => t.packets > 10),
      10_000,
      "Bob gets both of Alice's tracks",
    );
    await Promise.all([alice.leave(), x.leave(), bob.leave()]);
  });

  it("a newcomer on a second worker gets the tracks already published on the first", async () => {
    const a = await sfu.bot("late", "A");
    await a.publish({ mic: true, camera: true });
    const b = await sfu.bot("late", "B");
    await b.publish({ mic: true });
    const c = await sfu.bot("late", "C"); // the room's third: worker 1
    expect((await sfu.stats()).workers.map((w) => w.peers)).toEqual([2, 1]);
    expect(c.participants.size).toBe(2);
    await c.waitFor(
      () =>
        fromPeer(c, a.peerId!).length === 2 &&
        fromPeer(c, b.peerId!).length === 1 &&
        [...c.received.values()].every((t) => t.packets > 10),
      10_000,
      "C gets A and B",
    );
    await Promise.all([a.leave(), b.leave(), c.leave()]);
  });

  it("a newcomer on a worker the room's last participant there just left gets every track again", async () => {
    const a = await sfu.bot("again", "A");
    await a.publish({ mic: true, camera: { simulcast: true } });
    const b = await sfu.bot("again", "B");
    await b.publish({ mic: true });
    const gets = (bot: Bot) =>
      bot.waitFor(
        () =>
          fromPeer(bot, a.peerId!).length === 2 &&
          fromPeer(bot, b.peerId!).length === 1 &&
          [...bot.received.values()].every((t) => t.packets > 10),
        10_000,
        `${bot.self?.displayName} gets A and B`,
      );
    // C on worker 1 takes A's and B's tracks through pipes; then leaves, closing them.
    const c = await sfu.bot("again", "C");
    expect((await sfu.stats()).workers.map((w) => w.peers)).toEqual([2, 1]);
    await gets(c);
    await c.leave();
    await eventually(
      async () => (await sfu.stats()).workers[1]!.peers === 0,
      5_000,
      "C gone from worker 1",
    );
    // Twice, right away and after the pipes' state has settled: each newcomer lands on
    // worker 1 (worker 0 is full) and must be piped A's and B's tracks afresh.
    for (const name of ["D", "E"]) {
      const next = await sfu.bot("again", name);
      expect((await sfu.stats()).workers.map((w) => w.peers)).toEqual([2, 1]);
      await gets(next);
      expect(next.errors).toEqual([]);
      await next.leave();
      await eventually(
        async () => (await sfu.stats()).workers[1]!.peers === 0,
        5_000,
        `${name} gone from worker 1`,
      );
    }
    await Promise.all([a.leave(), b.leave()]);
  });
});

describe("a media worker that crashes", () => {
  let sfu: TestSfu;
  beforeAll(async () => {
    sfu = await startSfu({ SFU_WORKERS: "2", SFU_DEBUG_CRASH: "true" });
  });
  afterAll(async () => {
    await sfu?.stop();
  });

  it("ends only its own calls; the SFU goes on, restarts it, and its participants can rejoin", async () => {
    const join = async (room: string, name: string) => {
      const bot = await sfu.bot(room, name);
      await bot.publish({ mic: true, camera: true });
      return bot;
    };
    // Two rooms: the first on worker 0, the second on worker 1 (the least loaded).
    const a1 = await join("doomed", "A1");
    const b1 = await join("survivor", "B1");
    const a2 = await join("doomed", "A2");
    const b2 = await join("survivor", "B2");
    expect((await sfu.stats()).workers.map((w) => w.peers)).toEqual([2, 2]);
    await b2.waitFor(() => fromPeer(b2, b1.peerId!).every((t) => t.packets > 10), 10_000, "B");

    const res = await fetch(`${sfu.url}/debug/crash-worker?index=0`, { method: "POST" });
    expect(res.status).toBe(202);

    // Worker 0's participants are told their session ended (clients then rejoin).
    await a1.waitFor(() => a1.closedReason !== undefined, 5_000, "A1 told");
    await a2.waitFor(() => a2.closedReason !== undefined, 5_000, "A2 told");
    expect(a1.closedReason).toMatch(/worker/);
    // Worker 1's call goes on.
    const before = fromPeer(b2, b1.peerId!).reduce((n, t) => n + t.packets, 0);
    await b2.waitFor(
      () => fromPeer(b2, b1.peerId!).reduce((n, t) => n + t.packets, 0) > before + 50,
      5_000,
      "B2 still gets B1",
    );
    expect(b1.closedReason).toBeUndefined();
    expect((await fetch(`${sfu.url}/health`)).status).toBe(200);

    // The doomed room's participants rejoin (as a client does) and see each other again.
    await eventually(
      async () => (await sfu.stats()).workers.every((w) => w.alive),
      10_000,
      "worker 0 restarted",
    );
    await Promise.all([a1.close(), a2.close()]);
    const again1 = await join("doomed", "A1");
    const again2 = await join("doomed", "A2");
    await again2.waitFor(
      () => fromPeer(again2, again1.peerId!).every((t) => t.packets > 10),
      10_000,
      "rejoined call flows",
    );
    expect(fromPeer(again2, again1.peerId!)).toHaveLength(2);
    await Promise.all([again1.leave(), again2.leave(), b1.leave(), b2.leave()]);
  });
});
