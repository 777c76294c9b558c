/**
 * Simulcast through a real SFU process with bots: the layer follows the subscriber's tile
 * size and its bandwidth estimate (REMB), hidden tiles are paused, every switch keeps
 * one SSRC and continuous sequence numbers, timestamps and VP8 picture ids, and NACKed
 * packets are retransmitted from the producer's cache.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Bot, ReceivedTrack } from "../bot/bot";
import type { VideoShape } from "../bot/rtp-source";
import { eventually, startSfu, type TestSfu } from "./harness";

let sfu: TestSfu;
beforeAll(async () => {
  sfu = await startSfu();
});
afterAll(async () => {
  await sfu?.stop();
});

/** A simulcasting publisher and one subscriber receiving its camera. */
async function simulcastCall(
  roomId: string,
  shape?: Partial<VideoShape>,
): Promise<{ pub: Bot; sub: Bot; track: ReceivedTrack; trackId: string }> {
  const pub = await sfu.bot(roomId, "Simulcaster");
  await pub.publish({ camera: { simulcast: true, shape } });
  const sub = await sfu.bot(roomId, "Viewer");
  await sub.waitFor(() => [...sub.received.values()].some((t) => t.packets > 10), 10_000, "video");
  const [track] = [...sub.received.values()];
  // Every layer has been measured by the SFU (rates need a full second).
  await eventually(
    async () => {
      const stats = (await sfu.stats()).tracks.find((t) => t.trackId === track!.info!.trackId);
      return !!stats && stats.layers.every((l) => l.bitrate > 0);
    },
    5_000,
    "layer rates",
  );
  return { pub, sub, track: track!, trackId: track!.info!.trackId };
}

/** Packets arriving now, over `ms`. */
async function packetsDuring(track: ReceivedTrack, ms: number): Promise<number> {
  const before = track.packets;
  await new Promise((resolve) => setTimeout(resolve, ms));
  return track.packets - before;
}

function expectContinuous(track: ReceivedTrack): void {
  expect(track.ssrcs.size).toBe(1);
  expect(track.gaps).toBe(0);
  expect(track.timestampRegressions).toBe(0);
  expect(track.pictureIdJumps).toBe(0);
  expect(track.keyFrames).toBeGreaterThan(0); // the picture id check saw frames
}

describe("simulcast layer selection", () => {
  it("follows the tile size, pauses a hidden tile, and keeps numbering continuous across switches", async () => {
    const { pub, sub, track, trackId } = await simulcastCall("room-tiles");
    expect(track.layer).toBe("low"); // nothing reported yet: the cheap layer

    let requests = pub.keyFrameRequests;
    const keyFrames = track.keyFrames;
    await sub.setTileSize(trackId, 1280, 720);
    await sub.waitFor(() => track.layer === "high", 5_000, "high for a large tile");
    expect(pub.keyFrameRequests).toBeGreaterThan(requests);
    const packets = track.packets;
    await sub.waitFor(() => track.packets > packets + 10, 5_000, "high layer packets");
    // The switch happened on a key frame of the new layer, asked for by the SFU.
    expect(track.keyFrames).toBeGreaterThan(keyFrames);

    requests = pub.keyFrameRequests;
    await sub.setTileSize(trackId, 400, 225);
    await sub.waitFor(() => track.layer === "medium", 5_000, "medium for a mid-size tile");
    await sub.setTileSize(trackId, 160, 90);
    await sub.waitFor(() => track.layer === "low", 5_000, "low for a thumbnail");
    expect(pub.keyFrameRequests).toBeGreaterThan(requests);

    // Hidden: nothing flows. Shown again: it resumes on a key frame, numbering continuous.
    await sub.setTileSize(trackId, 0, 0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await packetsDuring(track, 700)).toBe(0);
    await sub.setTileSize(trackId, 1280, 720);
    await sub.waitFor(() => track.layer === "high", 5_000, "high again");
    expect(await packetsDuring(track, 700)).toBeGreaterThan(5);

    expectContinuous(track);
    expect(sub.errors).toEqual([]);
    await sub.leave();
    await pub.leave();
  });

  it("steps down when the subscriber's REMB shrinks and back up when it grows", async () => {
    const { pub, sub, track, trackId } = await simulcastCall("room-remb");
    await sub.setTileSize(trackId, 1280, 720);
    await sub.waitFor(() => track.layer === "high", 5_000, "high");
    // An estimate above what it gets ends the probe a call starts with (bandwidth-allocation.ts).
    await sub.sendRemb(5_000_000);

    // Between the measured low and medium rates: only the low layer fits. (The 15 %
    // upgrade headroom is checked in layer-selection.test.ts, free of timing.)
    const layers = (await sfu.stats()).tracks.find((t) => t.trackId === trackId)!.layers;
    const rate = (name: string) => layers.find((l) => l.layer === name)!.bitrate;
    await sub.sendRemb((rate("low") + rate("medium")) / 2);
    await sub.waitFor(() => track.layer === "low", 5_000, "low within a small estimate");
    await sub.sendRemb(5_000_000);
    await sub.waitFor(() => track.layer === "high", 5_000, "high with plenty of bandwidth");
    expect(await packetsDuring(track, 500)).toBeGreaterThan(3);

    expectContinuous(track);
    await sub.leave();
    await pub.leave();
  });

  it("keeps a switch up under way while the estimate wavers inside the upgrade headroom", async () => {
    // Key frames only when asked: the switch waits for one as long as the publisher ignores
    // it. 50 frames a second: a layer's rate, measured over one-second windows, varies by a
    // frame in fifty instead of one in fifteen, well inside the band this test sits in.
    const { pub, sub, track, trackId } = await simulcastCall("room-wavering", {
      fps: 50,
      keyFrameInterval: 1_000_000,
    });
    await sub.setTileSize(trackId, 160, 90);
    await sub.sendRemb(5_000_000); // ends the probe a call starts with
    const layers = (await sfu.stats()).tracks.find((t) => t.trackId === trackId)!.layers;
    const medium = layers.find((l) => l.layer === "medium")!.bitrate;
    // Covers the medium layer, but not with the 15 % an upgrade needs.
    const wavering = medium * 1.075;
    await sub.sendRemb(wavering);
    const remb = setInterval(() => void sub.sendRemb(wavering), 250);
    try {
      pub.dropKeyFrameRequests = 1_000;
      const requests = pub.keyFrameRequests;
      // A tile grown to the medium layer's size probes at once: the switch up begins.
      await sub.setTileSize(trackId, 640, 360);
      await sub.waitFor(
        () => pub.keyFrameRequests > requests,
        3_000,
        "the switch's key-frame request",
      );
      // The probe arrives (the estimate covers the medium layer) and the budget applies
      // again, without the headroom. The switch is kept, and still asks for its key frame.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(track.layer).toBe("low");
      pub.dropKeyFrameRequests = 0;
      await sub.waitFor(() => track.layer === "medium", 3_000, "medium once its key frame comes");
    } finally {
      clearInterval(remb);
    }
    expectContinuous(track);
    await sub.leave();
    await pub.leave();
  });

  it("tells a viewer who arrives once every layer is flowing which layer it gets", async () => {
    const { pub, sub, trackId } = await simulcastCall("room-late-viewer");
    // The producer's layers are all live now, so the SFU picks the late viewer's layer the
    // moment it subscribes: that first choice must still reach it.
    const late = await sfu.bot("room-late-viewer", "Late viewer");
    await late.waitFor(() => (late.received.get(trackId)?.packets ?? 0) > 10, 10_000, "video");
    expect(late.received.get(trackId)!.layer).toBe("low");
    await late.leave();
    await sub.leave();
    await pub.leave();
  });
});

describe("a layer the publisher pauses", () => {
  it("moves its subscribers down within a second, and back up when it resumes", async () => {
    const { pub, sub, track, trackId } = await simulcastCall("room-paused-layer");
    await sub.setTileSize(trackId, 1280, 720);
    await sub.waitFor(() => track.layer === "high", 5_000, "high for a large tile");
    await sub.sendRemb(5_000_000);
    // A publisher whose estimate drops stops its top layer; the others go on. The SFU sees
    // the medium layer send frames the high one does not, instead of waiting 1.5 s of silence.
    const paused = performance.now();
    pub.pauseLayer("camera", 2, true);
    await sub.waitFor(() => track.layer === "medium", 5_000, "medium once high stops");
    const packets = track.packets;
    await sub.waitFor(() => track.packets > packets, 5_000, "medium layer packets");
    const movedMs = performance.now() - paused;
    console.info(JSON.stringify({ pausedLayer: { movedToMediumMs: Math.round(movedMs) } }));
    expect(movedMs).toBeLessThan(1_000);
    pub.pauseLayer("camera", 2, false);
    await sub.waitFor(() => track.layer === "high", 5_000, "high once it resumes");
    expect(await packetsDuring(track, 500)).toBeGreaterThan(3);
    expectContinuous(track);
    await sub.leave();
    await pub.leave();
  });
});

describe("NACK", () => {
  it("retransmits NACKed packets from the producer's cache, in the RTX stream", async () => {
    const { pub, sub, track, trackId } = await simulcastCall("room-nack");
    await sub.waitFor(() => track.packets > 30, 5_000, "some packets");
    const newest = track.lastSequenceNumber!;
    const wanted = [(newest - 6) & 0xffff, (newest - 5) & 0xffff];
    const before = (await sfu.stats()).rtp.retransmitted;
    const late = track.late;
    await sub.sendNack(trackId, wanted);
    await sub.waitFor(() => track.late >= late + 2, 3_000, "the retransmissions");
    expect((await sfu.stats()).rtp.retransmitted).toBeGreaterThanOrEqual(before + 2);
    // Only what was asked for came again, in the RTX stream the offer announced (werift's
    // receiver unwraps it into the original, as a browser does).
    expect(track.late).toBe(late + 2);
    expect(track.ssrcs.size).toBe(1);
    expect(sub.remoteSdps.at(-1)).toMatch(/^a=ssrc-group:FID \d+ \d+\r?$/m);
    expect(sub.rtxPacketsReceived()).toBe(2);
    await sub.leave();
    await pub.leave();
  });
});
