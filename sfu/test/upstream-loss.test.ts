/**
 * Upstream loss recovery (upstream-loss.ts, producer.ts): what a producer NACKs, when it
 * gives up on a packet, across the sequence-number wrap, and which losses need a key frame.
 */
import { describe, expect, it } from "vitest";
import { type MediaPacket, PacketCache } from "../media-packet";
import { missingWas } from "../producer";
import { type LossOptions, UpstreamLoss } from "../upstream-loss";
import { readVp8Fields, VP8_DESCRIPTOR_LENGTH, writeVp8Descriptor } from "../vp8";

const options: LossOptions = {
  nackIntervalMs: 50,
  maxNacks: 10,
  keyFrameAfterMs: 350,
  maxMissing: 150,
};

/** Polls every 50 ms from `from` to `to` (exclusive), collecting everything. */
function pollBetween(loss: UpstreamLoss, from: number, to: number) {
  const nacks: number[][] = [];
  const unrecovered: { at: number; seqs: number[] }[] = [];
  for (let t = from; t < to; t += 50) {
    const r = loss.poll(t);
    if (r.nack.length > 0) nacks.push(r.nack);
    if (r.unrecovered.length > 0) unrecovered.push({ at: t, seqs: r.unrecovered });
  }
  return { nacks, unrecovered };
}

describe("UpstreamLoss", () => {
  it("NACKs a gap every 50 ms, forgets what comes back, and reports what does not after 350 ms", () => {
    const loss = new UpstreamLoss(options);
    for (const seq of [100, 101, 104]) loss.received(seq, 0);
    expect(loss.pending).toBe(true);
    let { nacks } = pollBetween(loss, 0, 100);
    expect(nacks).toEqual([
      [102, 103],
      [102, 103],
    ]);
    loss.received(102, 120); // the retransmission
    expect(loss.recovered).toBe(1);
    const later = pollBetween(loss, 100, 400);
    nacks = later.nacks;
    expect(nacks.every((n) => n.length === 1 && n[0] === 103)).toBe(true);
    expect(later.unrecovered).toEqual([{ at: 350, seqs: [103] }]);
    // Asked ten times in all, then given up on; reported once.
    const rest = pollBetween(loss, 400, 1_000);
    expect(2 + nacks.length + rest.nacks.length).toBe(10);
    expect(rest.unrecovered).toEqual([]);
    expect(loss.pending).toBe(false);
  });

  it("follows the sequence numbers across the wrap (werift stopped detecting loss there)", () => {
    const loss = new UpstreamLoss(options);
    for (const seq of [65_533, 65_534, 1, 2, 4]) loss.received(seq, 0);
    expect(loss.poll(0).nack).toEqual([65_535, 0, 3]);
    loss.received(0, 10);
    loss.received(65_535, 10);
    expect(loss.poll(60).nack).toEqual([3]);
  });

  it("drops what is missing before a key frame, and gives up at once on a huge gap", () => {
    const loss = new UpstreamLoss(options);
    for (const seq of [10, 12, 14]) loss.received(seq, 0);
    loss.keyFrame(14);
    expect(loss.pending).toBe(false);
    expect(loss.received(14 + 500, 0)).toEqual([15]);
    expect(loss.pending).toBe(false);
    expect(loss.unrecovered).toBe(499);
  });
});

describe("missingWas", () => {
  /** A VP8 packet: `start` of a frame with picture id `pid`, or a padding-only packet. */
  function packet(
    seq: number,
    o: { pid?: number; start?: boolean; marker?: boolean },
  ): MediaPacket {
    const payload = Buffer.alloc(o.pid === undefined ? 0 : VP8_DESCRIPTOR_LENGTH + 10);
    if (o.pid !== undefined) writeVp8Descriptor(payload, o.pid, o.start ?? false);
    const media: MediaPacket = {
      payload,
      sequenceNumber: seq,
      timestamp: 0,
      marker: o.marker ?? false,
      keyFrame: false,
      receivedAt: 0,
      pictureIdAt: -1,
      pictureIdLong: false,
      tl0PicIdxAt: -1,
    };
    readVp8Fields(payload, media);
    return media;
  }
  const cacheOf = (packets: MediaPacket[]) => {
    const cache = new PacketCache();
    for (const p of packets) cache.add(p);
    return cache;
  };

  it("between the end of one frame and the start of the next, only padding can be missing", () => {
    const cache = cacheOf([
      packet(1, { pid: 7, start: true }),
      packet(2, { pid: 7, marker: true }),
      packet(3, {}), // padding
      // 4 missing
      packet(5, {}),
      packet(6, { pid: 8, start: true }),
    ]);
    expect(missingWas(cache, 4)).toBe("padding");
  });

  it("a missing packet inside a frame, or a whole missing frame, is media", () => {
    const inside = cacheOf([
      packet(1, { pid: 7, start: true }),
      // 2 missing: the frame has no marker yet
      packet(3, { pid: 7, marker: true }),
    ]);
    expect(missingWas(inside, 2)).toBe("media");
    const wholeFrame = cacheOf([
      packet(1, { pid: 7, start: true, marker: true }),
      // 2 missing: picture 8
      packet(3, { pid: 9, start: true, marker: true }),
    ]);
    expect(missingWas(wholeFrame, 2)).toBe("media");
  });

  it("is unknown until media comes after it (a paused layer sends only padding)", () => {
    const paused = [packet(1, { pid: 7, start: true, marker: true }), packet(2, {}), packet(4, {})];
    expect(missingWas(cacheOf(paused), 3)).toBe("unknown");
    expect(missingWas(cacheOf([...paused, packet(5, { pid: 8, start: true })]), 3)).toBe("padding");
  });
});
