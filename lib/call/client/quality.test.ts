import { describe, expect, it } from "vitest";
import {
  appendSample,
  describeQuality,
  lossOf,
  pathOverTcp,
  type QualityLevel,
  qualityOf,
  SAMPLES_KEPT,
  sampleFromReport,
  type StatsSample,
  tilePoints,
} from "./quality";

/**
 * A link as the subscribe connection would report it, one sample a second: Opus audio at
 * 50 packets/s and video at 100 packets/s, with the given loss, round trip, jitter and
 * freezes. `silentFrom` stops all packets from that second on (a link that went down).
 */
interface Link {
  seconds: number;
  loss?: number;
  /** ms */
  rtt?: number;
  /** ms, the audio's; video's is `videoJitter`. */
  jitter?: number;
  videoJitter?: number;
  /**
   * second → [freezes, seconds frozen] shown in that second. Each comes with the key frame
   * the receiver asked for, in the same second or (`askedEarly`) the one before, unless the
   * machine is just slow (`slowMachine`: every packet came, decoding fell behind).
   */
  freezes?: Record<number, [number, number]>;
  askedEarly?: boolean;
  slowMachine?: boolean;
  silentFrom?: number;
  /** Loss from this second on (before it the link is clean). */
  lossFrom?: number;
  /** Loss ends at this second. */
  lossUntil?: number;
  /** Only the audio loses packets (video's are all repaired). */
  audioOnlyLoss?: boolean;
}

const START = 1_000_000;

function link(l: Link): StatsSample[] {
  const samples: StatsSample[] = [];
  const audio = { received: 0, lost: 0, bytes: 0 };
  const video = { received: 0, lost: 0, bytes: 0, frames: 0, freezes: 0, frozen: 0, plis: 0 };
  for (let s = 0; s <= l.seconds; s++) {
    if (s > 0) {
      const flowing = l.silentFrom === undefined || s < l.silentFrom;
      const lossy = s >= (l.lossFrom ?? 0) && s < (l.lossUntil ?? Infinity);
      const loss = lossy ? (l.loss ?? 0) : 0;
      if (flowing) {
        audio.lost += Math.round(50 * loss);
        audio.received += 50 - Math.round(50 * loss);
        audio.bytes += 50 * 100;
        const videoLoss = l.audioOnlyLoss ? 0 : loss;
        video.lost += Math.round(100 * videoLoss);
        video.received += 100 - Math.round(100 * videoLoss);
        video.bytes += 100 * 1_000;
        video.frames += 30;
      }
      const [count, frozen] = l.freezes?.[s] ?? [0, 0];
      video.freezes += count;
      video.frozen += frozen;
      const asking = l.freezes?.[l.askedEarly ? s + 1 : s];
      if (asking && !l.slowMachine) video.plis += 1;
    }
    const timestamp = START + s * 1_000;
    samples.push({
      at: timestamp + 3,
      rtt: (l.rtt ?? 20) / 1000,
      tracks: {
        a: {
          kind: "audio",
          timestamp,
          bytesReceived: audio.bytes,
          packetsReceived: audio.received,
          packetsLost: audio.lost,
          jitter: (l.jitter ?? 5) / 1000,
        },
        v: {
          kind: "video",
          timestamp,
          bytesReceived: video.bytes,
          packetsReceived: video.received,
          packetsLost: video.lost,
          framesDecoded: video.frames,
          framesPerSecond: 30,
          frameWidth: 640,
          frameHeight: 360,
          freezeCount: video.freezes,
          totalFreezesDuration: video.frozen,
          pliCount: video.plis,
          nackCount: 0,
          jitter: (l.videoJitter ?? 8) / 1000,
        },
      },
    });
  }
  return samples;
}

const levelOf = (samples: StatsSample[], expectedSince: number | null = START) =>
  qualityOf(tilePoints(samples, ["a", "v"]), expectedSince)?.level;

describe("call quality level", () => {
  const cases: [string, QualityLevel, Link][] = [
    ["a clean link", "Good", { seconds: 20 }],
    ["2 % loss (repairs hide it)", "Good", { seconds: 20, loss: 0.02 }],
    ["5 % loss", "Weak", { seconds: 20, loss: 0.05 }],
    ["15 % loss", "Bad", { seconds: 20, loss: 0.15 }],
    ["6 % loss on the audio alone", "Weak", { seconds: 20, loss: 0.06, audioOnlyLoss: true }],
    ["200 ms round trip", "Good", { seconds: 20, rtt: 200 }],
    ["400 ms round trip", "Weak", { seconds: 20, rtt: 400 }],
    ["1 s round trip", "Bad", { seconds: 20, rtt: 1_000 }],
    ["80 ms audio jitter", "Weak", { seconds: 20, jitter: 80 }],
    ["high video jitter with steady audio", "Good", { seconds: 20, videoJitter: 90 }],
    ["one short freeze in the last 10 s", "Weak", { seconds: 20, freezes: { 15: [1, 0.3] } }],
    ["one freeze 15 s ago", "Good", { seconds: 20, freezes: { 5: [1, 0.3] } }],
    ["repeated freezes", "Bad", { seconds: 20, freezes: { 14: [1, 0.3], 17: [1, 0.3] } }],
    ["a freeze over a second", "Bad", { seconds: 20, freezes: { 18: [1, 1.2] } }],
    [
      "repeated freezes after trouble the second before",
      "Bad",
      { seconds: 20, freezes: { 14: [1, 0.3], 17: [1, 0.3] }, askedEarly: true },
    ],
    [
      "repeated freezes of a slow machine, every packet in time",
      "Good",
      { seconds: 20, freezes: { 12: [2, 0.5], 17: [1, 1.2] }, slowMachine: true },
    ],
    ["nothing received for 3 s", "Bad", { seconds: 20, silentFrom: 18 }],
    ["nothing received for 2 s", "Good", { seconds: 20, silentFrom: 19 }],
    ["loss that hit 2 s ago", "Bad", { seconds: 20, loss: 0.3, lossFrom: 19 }],
    [
      "heavy loss that ended 3 s ago",
      "Bad",
      { seconds: 20, loss: 0.3, lossFrom: 10, lossUntil: 18 },
    ],
    [
      "heavy loss that ended 10 s ago",
      "Good",
      { seconds: 20, loss: 0.3, lossFrom: 5, lossUntil: 11 },
    ],
  ];
  it.each(cases)("%s → %s", (_name, expected, l) => {
    expect(levelOf(link(l))).toBe(expected);
  });

  it("says why it is not Good", () => {
    const reason = (l: Link) => qualityOf(tilePoints(link(l), ["a", "v"]), START)?.reason;
    expect(reason({ seconds: 20 })).toBeNull();
    expect(reason({ seconds: 20, loss: 0.15 })).toBe("loss");
    expect(reason({ seconds: 20, rtt: 1_000 })).toBe("delay");
    expect(reason({ seconds: 20, freezes: { 14: [1, 0.3], 17: [1, 0.3] } })).toBe("freezes");
    expect(reason({ seconds: 20, silentFrom: 10 })).toBe("nothing received");
  });

  it("puts the level and why in words", () => {
    expect(describeQuality({ level: "Good", reason: null })).toBe("Good");
    expect(describeQuality({ level: "Weak", reason: "loss" })).toBe("Weak: packets are being lost");
    expect(describeQuality({ level: "Bad", reason: "nothing received" })).toBe(
      "Bad: nothing is arriving",
    );
  });

  it("does not count silence while nothing is expected, or from before it was", () => {
    const silent = link({ seconds: 20, silentFrom: 1 });
    expect(levelOf(silent, null)).toBe("Good");
    // A microphone unmuted a second ago: its first packets may still be on their way.
    expect(levelOf(silent, START + 19_000)).toBe("Good");
    expect(levelOf(silent, START)).toBe("Bad");
  });

  it("ignores loss over too few packets to tell", () => {
    const samples = link({ seconds: 20, loss: 0.5 });
    // Only the audio track, and 2 packets a second of it: 10 packets in 5 s say nothing.
    const sparse = samples.map((s, i) => ({
      ...s,
      tracks: { a: { ...s.tracks.a!, packetsReceived: i, packetsLost: i } },
    }));
    expect(qualityOf(tilePoints(sparse, ["a"]), null)?.level).toBe("Good");
  });

  it("takes the loss of the worst track, each on its own", () => {
    const points = tilePoints(link({ seconds: 5, loss: 0.06, audioOnlyLoss: true }), ["a", "v"]);
    expect(lossOf(points)).toBe(0.06);
    expect(lossOf(points, 300)).toBe(0); // only the video has 300 packets due in 5 s
    expect(lossOf(points, 1_000)).toBeNull();
  });

  it("knows nothing before two samples", () => {
    expect(qualityOf(tilePoints(link({ seconds: 0 }), ["a", "v"]), START)).toBeNull();
  });
});

describe("tile points", () => {
  it("computes bitrate, loss, frame rate and size from the tile's own tracks", () => {
    const points = tilePoints(link({ seconds: 3, loss: 0.1 }), ["a", "v"]);
    expect(points).toHaveLength(3);
    expect(points[2]).toMatchObject({
      from: START + 2_003,
      at: START + 3_003,
      bitrate: (50 * 100 + 100 * 1_000) * 8,
      packets: 150,
      streams: { a: { packets: 50, lost: 5 }, v: { packets: 100, lost: 10 } },
      framesPerSecond: 30,
      width: 640,
      height: 360,
      jitter: 0.005,
      rtt: 0.02,
    });
    expect(tilePoints(link({ seconds: 3 }), ["a"])[2]).toMatchObject({
      bitrate: 50 * 100 * 8,
      framesPerSecond: null,
      width: null,
    });
  });

  it("adds no rates over a counter reset (a new session) and never negative loss", () => {
    const samples = link({ seconds: 4 });
    const reset = samples.map((s, i) =>
      i < 3
        ? s
        : { ...s, tracks: { a: { ...s.tracks.a!, bytesReceived: 500, packetsReceived: 5 } } },
    );
    const points = tilePoints(reset, ["a"]);
    expect(points[2]).toMatchObject({ bitrate: 0, packets: 0 });
    expect(points[3]!.bitrate).toBe(0); // 500 → 500 bytes
    // Late packets counted back make packetsLost go down: that interval lost nothing.
    const recovered = samples.map((s, i) =>
      i === 2 ? { ...s, tracks: { ...s.tracks, a: { ...s.tracks.a!, packetsLost: -3 } } } : s,
    );
    expect(tilePoints(recovered, ["a"])[1]!.streams.a).toEqual({ packets: 50, lost: 0 });
  });

  it("falls back to frames decoded where the browser reports no frame rate", () => {
    const samples = link({ seconds: 2 }).map((s) => ({
      ...s,
      tracks: { v: { ...s.tracks.v!, framesPerSecond: undefined } },
    }));
    expect(tilePoints(samples, ["v"])[1]!.framesPerSecond).toBe(30);
  });
});

describe("samples from getStats", () => {
  const inbound = (id: string, trackIdentifier: string, packetsReceived: number) =>
    [
      id,
      {
        id,
        type: "inbound-rtp",
        kind: "video",
        trackIdentifier,
        timestamp: 1_700_000_000_000,
        bytesReceived: packetsReceived * 1_000,
        packetsReceived,
        packetsLost: 2,
        framesPerSecond: 29,
        frameWidth: 1280,
        frameHeight: 720,
        freezeCount: 1,
        totalFreezesDuration: 0.4,
        jitter: 0.004,
        nackCount: 5,
        pliCount: 1,
        codecId: "C1",
      },
    ] as const;

  it("reads Chromium's report: inbound-rtp by track, the transport's selected pair's RTT", () => {
    const report = new Map<string, unknown>([
      inbound("IT1", "track-1", 900),
      ["T1", { id: "T1", type: "transport", selectedCandidatePairId: "CP2" }],
      [
        "CP1",
        {
          id: "CP1",
          type: "candidate-pair",
          state: "succeeded",
          nominated: true,
          currentRoundTripTime: 0.5,
        },
      ],
      [
        "CP2",
        {
          id: "CP2",
          type: "candidate-pair",
          state: "succeeded",
          nominated: true,
          currentRoundTripTime: 0.012,
        },
      ],
    ]);
    const sample = sampleFromReport(report, 42);
    expect(sample.at).toBe(42);
    expect(sample.rtt).toBe(0.012);
    expect(sample.tracks["track-1"]).toEqual({
      kind: "video",
      timestamp: 1_700_000_000_000,
      bytesReceived: 900_000,
      packetsReceived: 900,
      packetsLost: 2,
      framesPerSecond: 29,
      frameWidth: 1280,
      frameHeight: 720,
      freezeCount: 1,
      totalFreezesDuration: 0.4,
      jitter: 0.004,
      nackCount: 5,
      pliCount: 1,
    });
  });

  it("reads Firefox's selected pair and keeps the busier stream of a track", () => {
    const report = new Map<string, unknown>([
      inbound("a", "track-1", 10),
      inbound("b", "track-1", 700),
      ["p", { id: "p", type: "candidate-pair", selected: true, currentRoundTripTime: 0.03 }],
    ]);
    const sample = sampleFromReport(report, 0);
    expect(sample.rtt).toBe(0.03);
    expect(sample.tracks["track-1"]?.packetsReceived).toBe(700);
  });

  it("skips what is not what the spec says, and has no RTT without a selected pair", () => {
    const report = new Map<string, unknown>([
      [
        "x",
        {
          type: "inbound-rtp",
          kind: "video",
          trackIdentifier: "t",
          timestamp: 1,
          bytesReceived: "9",
          packetsReceived: 1,
          packetsLost: 0,
        },
      ],
      [
        "y",
        {
          type: "inbound-rtp",
          kind: "video",
          timestamp: 1,
          bytesReceived: 9,
          packetsReceived: 1,
          packetsLost: 0,
        },
      ],
      [
        "z",
        {
          type: "inbound-rtp",
          kind: "video",
          trackIdentifier: "u",
          timestamp: 1,
          bytesReceived: 9,
          packetsReceived: Number.NaN,
          packetsLost: 0,
        },
      ],
      ["p", { id: "p", type: "candidate-pair", state: "in-progress", currentRoundTripTime: 0.2 }],
      ["s", null],
    ]);
    expect(sampleFromReport(report, 0)).toEqual({ at: 0, rtt: null, tracks: {} });
  });

  it("keeps the last minute of samples", () => {
    let samples: StatsSample[] = [];
    for (let i = 0; i < 75; i++) samples = appendSample(samples, { at: i, rtt: null, tracks: {} });
    expect(samples).toHaveLength(SAMPLES_KEPT);
    expect(samples[0]!.at).toBe(75 - SAMPLES_KEPT);
    expect(samples.at(-1)!.at).toBe(74);
  });
});

describe("pathOverTcp", () => {
  /** A report whose transport selected pair `p1` (local candidate `local`), beside another pair. */
  const report = (local: Record<string, unknown> | undefined, selected = "p1") =>
    new Map<string, unknown>([
      ["t", { type: "transport", selectedCandidatePairId: selected }],
      ["p0", { id: "p0", type: "candidate-pair", state: "failed", localCandidateId: "l0" }],
      ["p1", { id: "p1", type: "candidate-pair", state: "succeeded", localCandidateId: "l1" }],
      [
        "l0",
        { type: "local-candidate", candidateType: "relay", protocol: "udp", relayProtocol: "udp" },
      ],
      ...(local ? [["l1", { type: "local-candidate", ...local }] as [string, unknown]] : []),
    ]);

  it("says TCP for a relay reached over TCP or TLS, and for ICE over TCP", () => {
    for (const relayProtocol of ["tcp", "tls"])
      expect(pathOverTcp(report({ candidateType: "relay", protocol: "udp", relayProtocol }))).toBe(
        true,
      );
    expect(pathOverTcp(report({ candidateType: "host", protocol: "tcp" }))).toBe(true);
  });

  it("says UDP for a relay over UDP and for a direct UDP path, reading the selected pair only", () => {
    expect(
      pathOverTcp(report({ candidateType: "relay", protocol: "udp", relayProtocol: "udp" })),
    ).toBe(false);
    expect(pathOverTcp(report({ candidateType: "prflx", protocol: "udp" }))).toBe(false);
    // The failed UDP pair beside it is not the one in use.
    expect(
      pathOverTcp(report({ candidateType: "relay", protocol: "udp", relayProtocol: "tls" })),
    ).toBe(true);
  });

  it("does not know without a selected pair or its local candidate", () => {
    expect(pathOverTcp(new Map())).toBeNull();
    expect(pathOverTcp(report(undefined))).toBeNull();
    expect(pathOverTcp(report({ candidateType: "host", protocol: "udp" }, "missing"))).toBeNull();
  });
});
