import { RtcpPacketConverter, type RtcpTransportLayerFeedback, type TransportWideCC } from "werift";
import { describe, expect, it } from "vitest";
import { allocate, DownlinkEstimate, type VideoDemand } from "../bandwidth-allocation";
import { chooseLayer, layerForTile } from "../layer-selection";
import { payloadEnd } from "../srtp/fast-transport";
import { findExtension, readTransportSequence, TransportFeedback } from "../transport-feedback";

const all = ["low", "medium", "high"] as const;
const rates = { low: 150_000, medium: 500_000, high: 1_500_000 };

describe("layer selection", () => {
  it("picks the smallest layer that covers the tile, with a band of hysteresis", () => {
    expect(layerForTile({ width: 1280, height: 720 }, null)).toBe("high");
    expect(layerForTile({ width: 640, height: 360 }, null)).toBe("medium");
    expect(layerForTile({ width: 320, height: 180 }, null)).toBe("low");
    // A 360-px tile keeps the high layer it has; it must shrink clearly to step down.
    expect(layerForTile({ width: 640, height: 360 }, "high")).toBe("high");
    expect(layerForTile({ width: 480, height: 270 }, "high")).toBe("medium");
    // Going up is immediate once the tile outgrows the layer.
    expect(layerForTile({ width: 800, height: 450 }, "medium")).toBe("high");
  });

  it("pauses hidden tiles, honours preferences and caps, and falls back to flowing layers", () => {
    expect(
      chooseLayer({
        active: [...all],
        preferred: null,
        tile: { width: 0, height: 0 },
        current: "high",
      }),
    ).toBe("paused");
    expect(chooseLayer({ active: [...all], preferred: null, tile: null, current: undefined })).toBe(
      "low",
    );
    expect(
      chooseLayer({
        active: [...all],
        preferred: "medium",
        tile: { width: 1920, height: 1080 },
        current: undefined,
      }),
    ).toBe("medium");
    expect(
      chooseLayer({
        active: [...all],
        preferred: null,
        tile: { width: 1920, height: 1080 },
        current: undefined,
        cap: "low",
      }),
    ).toBe("low");
    // The publisher stopped its high layer: take the best that flows.
    expect(
      chooseLayer({
        active: ["low", "medium"],
        preferred: null,
        tile: { width: 1920, height: 1080 },
        current: "high",
      }),
    ).toBe("medium");
    expect(
      chooseLayer({
        active: [null],
        preferred: null,
        tile: { width: 100, height: 100 },
        current: undefined,
      }),
    ).toBe(null);
    expect(
      chooseLayer({ active: [], preferred: null, tile: null, current: undefined }),
    ).toBeUndefined();
  });
});

describe("bandwidth allocation", () => {
  const demand = (
    id: string,
    wanted: VideoDemand["wanted"],
    current: VideoDemand["current"],
    priority: number,
  ): VideoDemand => ({
    id,
    wanted,
    current,
    bitrates: rates,
    priority,
  });

  it("steps the smallest tiles down first until the total fits", () => {
    const caps = allocate(
      [demand("big", "high", "high", 1000), demand("small", "high", "high", 10)],
      2_200_000,
    );
    expect(caps.get("big")).toBe("high");
    expect(caps.get("small")).toBe("medium");
    const tight = allocate(
      [demand("big", "high", "high", 1000), demand("small", "high", "high", 10)],
      400_000,
    );
    expect([tight.get("big"), tight.get("small")]).toEqual(["low", "low"]);
  });

  it("goes up only with 15 % headroom", () => {
    expect(allocate([demand("a", "high", "medium", 1)], 1_600_000).get("a")).toBe("medium");
    expect(allocate([demand("a", "high", "medium", 1)], 1_800_000).get("a")).toBe("high");
    // …but keeps what it has while it fits.
    expect(allocate([demand("a", "high", "high", 1)], 1_600_000).get("a")).toBe("high");
  });

  it("limits by REMB and by loss, and probes upward after a back-off", () => {
    const downlink = new DownlinkEstimate();
    expect(downlink.budget(0, 1_000_000, false)).toBe(Infinity);
    downlink.onRemb(800_000, 1_000);
    expect(downlink.budget(1_000, 600_000, false)).toBe(800_000);
    downlink.onLoss(0.2, 1_100);
    expect(downlink.budget(1_200, 600_000, false)).toBe(510_000);
    // An old estimate no longer limits.
    expect(downlink.budget(20_000, 600_000, false)).toBe(Infinity);
    const probing = new DownlinkEstimate();
    probing.onRemb(300_000, 0);
    probing.onDowngrade(0);
    expect(probing.budget(1_000, 150_000, true)).toBe(300_000);
    probing.onRemb(300_000, 9_000);
    expect(probing.budget(9_000, 150_000, true)).toBe(Infinity); // try one step up
  });

  it("a lossy receiver report limits for two seconds, not for as long as reports keep coming", () => {
    const downlink = new DownlinkEstimate();
    expect(downlink.budget(0, 1_000_000, false)).toBe(Infinity);
    downlink.onRemb(800_000, 1_000);
    expect(downlink.budget(1_000, 600_000, false)).toBe(800_000);
    // One report of 20 % loss among clean ones (Chromium reports about once a second per
    // stream): it holds the budget under what is sent for two seconds…
    downlink.onLoss(0.2, 1_100);
    downlink.onLoss(0, 1_150);
    expect(downlink.budget(1_200, 600_000, false)).toBe(510_000);
    downlink.onLoss(0, 2_100);
    expect(downlink.budget(3_000, 600_000, false)).toBe(510_000);
    // …and then no longer, though clean reports kept coming.
    for (const t of [3_100, 4_100, 5_100]) downlink.onLoss(0, t);
    downlink.onRemb(800_000, 5_000);
    expect(downlink.budget(5_200, 600_000, false)).toBe(800_000);
    // Two streams: the worse one within the last two seconds counts.
    downlink.onLoss(0.15, 6_000);
    downlink.onLoss(0.01, 6_010);
    expect(downlink.budget(7_500, 600_000, false)).toBe(510_000);
    downlink.onLoss(0.01, 8_010);
    expect(downlink.budget(8_100, 600_000, false)).toBe(800_000);
  });

  it("probes as soon as a tile wants more, at an estimate just above what is sent", () => {
    // Chromium's REMB runs a few per cent above what it receives. The call's first probe
    // arrives at once while the tile is unknown (low layer); the tile is then enlarged a
    // second later, 5 s into the media worker's life (its clock starts at 0).
    const enlarged = new DownlinkEstimate();
    enlarged.onRemb(111_000, 4_000);
    expect(enlarged.budget(4_000, 100_000, false)).toBe(111_000);
    enlarged.onRemb(121_000, 5_000);
    // Held below what it wants, but nothing new asked for: the probes' back-off holds.
    expect(enlarged.budget(5_000, 111_000, true, { wantedBps: 1_600_000 })).toBe(121_000);
    const demand = { wantedBps: 1_600_000, wantsMore: true };
    expect(enlarged.budget(5_250, 111_000, true, demand)).toBe(Infinity);
    expect(enlarged.probing).toBe(true);
    // The estimate covers what is sent before the high layer's key frame comes: not arrived.
    enlarged.onRemb(125_000, 5_500);
    expect(enlarged.budget(5_500, 111_000, false, { wantedBps: 1_600_000 })).toBe(Infinity);
    enlarged.onRemb(1_700_000, 7_000);
    expect(enlarged.budget(7_000, 1_550_000, false, { wantedBps: 1_600_000 })).toBe(1_700_000);
    expect(enlarged.probing).toBe(false);

    // The estimate lags what is sent by a second: a little below it still probes…
    const lagging = new DownlinkEstimate();
    lagging.onRemb(111_000, 4_000);
    expect(lagging.budget(4_000, 100_000, false)).toBe(111_000);
    lagging.onRemb(110_000, 5_000);
    expect(lagging.budget(5_000, 116_000, true, demand)).toBe(Infinity);
    // …but a probe merely due after the back-off wants the estimate to cover what is sent.
    const due = new DownlinkEstimate();
    due.onRemb(111_000, 0);
    expect(due.budget(0, 100_000, false)).toBe(111_000);
    due.onRemb(110_000, 9_000);
    expect(due.budget(9_000, 116_000, true, { wantedBps: 1_600_000 })).toBe(110_000);
    due.onRemb(120_000, 9_500);
    expect(due.budget(9_500, 116_000, true, { wantedBps: 1_600_000 })).toBe(Infinity);
    // …well below it is congestion: no probe, asked for or not.
    const congested = new DownlinkEstimate();
    congested.onRemb(111_000, 4_000);
    expect(congested.budget(4_000, 100_000, false)).toBe(111_000);
    congested.onRemb(80_000, 5_000);
    expect(congested.budget(5_000, 100_000, true, demand)).toBe(80_000);
    expect(congested.probing).toBe(false);
    // Nor within the back-off of a downgrade.
    const downgraded = new DownlinkEstimate();
    downgraded.onRemb(400_000, 0);
    expect(downgraded.budget(0, 300_000, false)).toBe(400_000);
    downgraded.onDowngrade(1_000);
    expect(downgraded.budget(2_000, 300_000, true, demand)).toBe(400_000);
    downgraded.onRemb(400_000, 9_000);
    expect(downgraded.budget(9_000, 300_000, true, demand)).toBe(Infinity);
    expect(downgraded.probing).toBe(true);
  });

  it("holds a probe while the estimate climbs, and ends it on arrival, a fall or loss", () => {
    // A call starts as a probe: Chromium's first REMBs are its start value, below what a
    // 360p layer needs, and climb a few per cent a second once that layer flows.
    const start = new DownlinkEstimate();
    let remb = 260_000;
    for (let t = 0; t < 12_000; t += 500) {
      start.onRemb(remb, t);
      expect(start.budget(t, 550_000, true)).toBe(Infinity);
      remb *= 1.025;
    }
    start.onRemb(560_000, 12_500);
    expect(start.budget(12_500, 550_000, true)).toBe(560_000); // arrived: the estimate rules again
    expect(start.probing).toBe(false);

    // Congestion: the estimate falls well below where the probe found it.
    const falling = new DownlinkEstimate();
    falling.onRemb(300_000, 0);
    expect(falling.budget(0, 500_000, true)).toBe(Infinity);
    falling.onRemb(240_000, 1_000);
    expect(falling.budget(1_000, 500_000, true)).toBe(240_000);
    falling.onDowngrade(1_000);
    // The failed probe doubled the back-off: no new probe at 8 s, one at 16 s.
    falling.onRemb(240_000, 9_500);
    expect(falling.budget(9_500, 150_000, true)).toBe(240_000);
    falling.onRemb(240_000, 17_500);
    expect(falling.budget(17_500, 150_000, true)).toBe(Infinity);

    // Loss ends it too, and so does an estimate that stops climbing.
    const lossy = new DownlinkEstimate();
    lossy.onRemb(300_000, 0);
    expect(lossy.budget(0, 500_000, true)).toBe(Infinity);
    lossy.onLoss(0.2, 500);
    expect(lossy.budget(600, 500_000, true)).toBe(300_000);
    const stuck = new DownlinkEstimate();
    stuck.onRemb(300_000, 0);
    expect(stuck.budget(0, 500_000, true)).toBe(Infinity);
    stuck.onRemb(320_000, 1_000);
    expect(stuck.budget(1_000, 500_000, true)).toBe(Infinity);
    for (let t = 1_500; t <= 6_000; t += 500) {
      stuck.onRemb(322_000, t); // under 2 % more: not progress
      expect(stuck.budget(t, 500_000, true)).toBe(Infinity);
    }
    stuck.onRemb(322_000, 6_500);
    expect(stuck.budget(6_500, 500_000, true)).toBe(322_000);
    expect(stuck.probing).toBe(false);
    // A steady climb is held past 20 s, as long as it takes Chromium's ~8 %/s to get from
    // 130 kbps to the high layer's 800 kbps, and ends on arrival.
    const climbing = new DownlinkEstimate();
    let estimate = 130_000;
    climbing.onRemb(estimate, 0);
    expect(climbing.budget(0, 800_000, false)).toBe(Infinity);
    let t = 0;
    while (estimate < 800_000) {
      t += 250;
      estimate *= 1.02;
      climbing.onRemb(estimate, t);
      const budget = climbing.budget(t, 800_000, false);
      if (estimate < 800_000) expect(budget).toBe(Infinity);
      else expect(budget).toBe(estimate);
    }
    expect(t).toBeGreaterThan(20_000);
    expect(climbing.probing).toBe(false);
  });
});

describe("transport-wide feedback", () => {
  it("reports arrivals and losses in a message werift parses back", () => {
    const sent: Buffer[] = [];
    const feedback = new TransportFeedback(0x1234, (packet) => sent.push(packet));
    let at = 100_000.3;
    for (let seq = 65530; seq < 65550; seq++) {
      if (seq % 5 !== 0) feedback.record(seq & 0xffff, at);
      at += 1.1;
    }
    expect(new TransportFeedback(1, () => {}).flush(0x5678)).toBe(false); // nothing yet
    expect(feedback.flush(0x5678)).toBe(true);
    expect(sent).toHaveLength(1);
    const [packet] = RtcpPacketConverter.deSerialize(sent[0]!) as RtcpTransportLayerFeedback[];
    const twcc = packet!.feedback as TransportWideCC;
    expect(twcc.baseSequenceNumber).toBe(65531);
    expect(twcc.packetStatusCount).toBe(19);
    expect(twcc.mediaSourceSsrc).toBe(0x5678);
    expect(twcc.recvDeltas).toHaveLength(16); // 65535, 65540 and 65545 are lost
    // Deltas after the first are the 1.1 ms spacing, in 250 µs units, without drift.
    const later = twcc.recvDeltas.slice(1).map((d) => d.delta);
    expect(later.every((d) => d === 1000 || d === 1250 || d === 2250 || d === 2500)).toBe(true);
    // Nothing new, nothing sent: the publish connection leaves the shared tick until a packet comes.
    expect(feedback.flush(0x5678)).toBe(false);
    expect(sent).toHaveLength(1);
  });

  it("reads the transport-wide sequence number from a one-byte header extension", () => {
    // V=2, X=1; extension BEDE, 2 words: id 2 (1 byte), id 3 (2 bytes) = 0x1234, padding.
    const packet = Buffer.from([
      0x90, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xbe, 0xde, 0, 2, 0x20, 0xaa, 0x31, 0x12, 0x34, 0, 0,
      0, 1, 2,
    ]);
    expect(readTransportSequence(packet, 24, 3)).toBe(0x1234);
    expect(readTransportSequence(packet, 24, 5)).toBe(-1);
    // What the producer's route reads the audio level with: offset and length of id 2's data.
    expect(findExtension(packet, 24, 2)).toBe((17 << 4) | 0);
    expect(findExtension(packet, 24, 3)).toBe((19 << 4) | 1);
    expect(findExtension(packet.subarray(0, 12), 12, 2)).toBe(-1);
  });

  it("finds where an RTP payload ends, before its padding", () => {
    const header = [0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    expect(payloadEnd(Buffer.from([...header, 7, 7, 7]), 12)).toBe(15);
    // P=1: the last byte counts the padding (here 3 bytes, itself included).
    expect(payloadEnd(Buffer.from([0xa0, ...header.slice(1), 7, 0, 0, 3]), 12)).toBe(13);
    // Padding longer than the packet, or zero: malformed.
    expect(payloadEnd(Buffer.from([0xa0, ...header.slice(1), 7, 9]), 12)).toBe(-1);
    expect(payloadEnd(Buffer.from([0xa0, ...header.slice(1), 7, 0]), 12)).toBe(-1);
  });
});
