import {
  GenericNack,
  ReceiverEstimatedMaxBitrate,
  RtcpPacketConverter,
  RtcpPayloadSpecificFeedback,
  RtcpTransportLayerFeedback,
} from "werift";
import { describe, expect, it } from "vitest";
import { readRtcp, type RtcpFeedback } from "../rtcp-feedback";

/** Everything `readRtcp` reports, in order. */
function read(packet: Uint8Array): { ok: boolean; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const feedback: RtcpFeedback = {
    loss: (fractionLost) => calls.push(["loss", fractionLost]),
    remb: (bitrate) => calls.push(["remb", bitrate]),
    keyFrameRequest: (ssrc) => calls.push(["keyFrame", ssrc]),
    nack: (ssrc, lost) => calls.push(["nack", ssrc, [...lost]]),
  };
  return { ok: readRtcp(packet, feedback), calls };
}

/** One RTCP part: V = 2, the padding bit, count/format, type, length from the body's size. */
function part(type: number, count: number, body: number[], padding = 0): number[] {
  const pad = padding > 0 ? [...Array<number>(padding - 1).fill(0), padding] : [];
  const words = (body.length + pad.length) / 4;
  return [0x80 | (padding ? 0x20 : 0) | count, type, words >> 8, words & 0xff, ...body, ...pad];
}

const u32 = (n: number) => [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
const u16 = (n: number) => [n >> 8, n & 0xff];
/** A reception report block about `ssrc` (RFC 3550 §6.4.1). */
const block = (ssrc: number, fractionLost: number) => [
  ...u32(ssrc),
  fractionLost,
  0,
  0,
  7, // cumulative lost
  ...u32(0x1_2345), // extended highest sequence number
  ...u32(12), // jitter
  ...u32(0xaabbccdd), // LSR
  ...u32(0x10000), // DLSR
];
const rr = (...blocks: number[][]) => part(201, blocks.length, [...u32(0x5eed), ...blocks.flat()]);
const sdes = part(202, 1, [...u32(0x5eed), 1, 6, ...Buffer.from("abcdef"), 0, 0, 0, 0]);
const remb = (exponent: number, mantissa: number, ssrcs: number[]) =>
  part(206, 15, [
    ...u32(0x5eed),
    ...u32(0),
    ...Buffer.from("REMB"),
    ssrcs.length,
    (exponent << 2) | (mantissa >> 16),
    ...u16(mantissa & 0xffff),
    ...ssrcs.flatMap(u32),
  ]);
const pli = (ssrc: number) => part(206, 1, [...u32(0x5eed), ...u32(ssrc)]);
const nack = (ssrc: number, ...entries: Array<[number, number]>) =>
  part(205, 1, [
    ...u32(0x5eed),
    ...u32(ssrc),
    ...entries.flatMap(([p, b]) => [...u16(p), ...u16(b)]),
  ]);
const bytes = (...parts: number[][]) => Uint8Array.from(parts.flat());

describe("reading a subscriber's RTCP", () => {
  it("reads every report block of a receiver report and of a sender report", () => {
    expect(read(bytes(rr(block(0x1111, 64), block(0x2222, 0))))).toEqual({
      ok: true,
      calls: [
        ["loss", 64],
        ["loss", 0],
      ],
    });
    const senderInfo = [...u32(0xe000_0000), ...u32(0), ...u32(90_000), ...u32(10), ...u32(1000)];
    const sr = part(200, 1, [...u32(0x5eed), ...senderInfo, ...block(0x1111, 255)]);
    expect(read(bytes(sr))).toEqual({ ok: true, calls: [["loss", 255]] });
    expect(read(bytes(rr()))).toEqual({ ok: true, calls: [] }); // an empty RR (RFC 3550 §6.4.2)
  });

  it("reads a compound RR + SDES + REMB in order", () => {
    expect(read(bytes(rr(block(0x1111, 26)), sdes, remb(3, 150_000, [0x1111, 0x2222])))).toEqual({
      ok: true,
      calls: [
        ["loss", 26],
        ["remb", 1_200_000],
      ],
    });
  });

  it("reads REMB as werift writes and reads it, up to its largest exponent", () => {
    for (const [brExp, brMantissa] of [
      [0, 0],
      [0, 0x3ffff],
      [5, 78_125],
      [46, 1],
      [63, 0x3ffff],
    ] as const) {
      const packet = new RtcpPayloadSpecificFeedback({
        feedback: new ReceiverEstimatedMaxBitrate({
          senderSsrc: 1,
          mediaSsrc: 0,
          brExp,
          brMantissa,
          ssrcNum: 1,
          ssrcFeedbacks: [0x1234],
        }),
      }).serialize();
      expect(read(packet).calls).toEqual([["remb", brMantissa * 2 ** brExp]]);
      if (brExp <= 46) {
        const [theirs] = RtcpPacketConverter.deSerialize(packet);
        const bitrate = (
          (theirs as RtcpPayloadSpecificFeedback).feedback as ReceiverEstimatedMaxBitrate
        ).bitrate;
        expect(Number(bitrate)).toBe(brMantissa * 2 ** brExp);
      }
    }
  });

  it("reads PLI and every entry of a FIR as key-frame requests for the stream they name", () => {
    expect(read(bytes(pli(0xdeadbeef)))).toEqual({ ok: true, calls: [["keyFrame", 0xdeadbeef]] });
    const fir = part(206, 4, [
      ...u32(0x5eed),
      ...u32(0), // RFC 5104 §4.3.1.2: the media source SSRC is unused
      ...u32(0xaaaa),
      7,
      0,
      0,
      0,
      ...u32(0xbbbb),
      8,
      0,
      0,
      0,
    ]);
    expect(read(bytes(fir)).calls).toEqual([
      ["keyFrame", 0xaaaa],
      ["keyFrame", 0xbbbb],
    ]);
  });

  it("reads a generic NACK's packet ids and bitmasks, across the sequence-number wrap", () => {
    expect(read(bytes(nack(0x4242, [65534, 0b101], [10, 0x8000])))).toEqual({
      ok: true,
      calls: [["nack", 0x4242, [65534, 65535, 1, 10, 26]]],
    });
    const lost = [100, 101, 117, 300, 301];
    const theirs = new RtcpTransportLayerFeedback({
      feedback: new GenericNack({ senderSsrc: 1, mediaSourceSsrc: 0x4242, lost }),
    }).serialize();
    expect(read(theirs).calls).toEqual([["nack", 0x4242, lost]]);
  });

  it("accepts padding at the end of the compound packet", () => {
    const padded = part(201, 1, [...u32(0x5eed), ...block(0x1111, 9)], 8);
    expect(read(bytes(sdes, padded))).toEqual({ ok: true, calls: [["loss", 9]] });
  });

  it("leaves to werift, reporting nothing, a compound packet with a part it does not read", () => {
    const report = rr(block(0x1111, 64));
    const twcc = part(205, 15, [
      ...u32(0x5eed),
      ...u32(0x1111),
      ...u16(1),
      ...u16(1),
      0,
      0,
      0,
      0,
      0x20,
      1,
      0,
      0,
    ]);
    const xr = part(207, 0, [...u32(0x5eed), 4, 0, ...u16(2), ...u32(1), ...u32(2)]);
    const app = part(204, 0, [...u32(0x5eed), ...Buffer.from("TEST")]);
    const notRemb = part(206, 15, [...u32(1), ...u32(0), ...Buffer.from("XYZW"), 0, 0, 0, 0]);
    const sli = part(206, 2, [...u32(1), ...u32(2), 0, 0, 0, 1]);
    for (const other of [twcc, xr, app, notRemb, sli]) {
      expect(read(bytes(report, other))).toEqual({ ok: false, calls: [] });
      expect(read(bytes(other, report))).toEqual({ ok: false, calls: [] });
    }
  });

  it("refuses malformed and truncated packets without throwing", () => {
    const parts = [rr(block(0x1111, 26)), sdes, remb(3, 150_000, [0x1111]), nack(7, [1, 1])];
    const good = bytes(...parts);
    expect(read(good).ok).toBe(true);
    // Every truncation of a good compound packet except between its parts (a shorter
    // compound packet, still good).
    const boundaries = new Set(parts.map((_, i) => parts.slice(0, i + 1).flat().length));
    for (let end = 0; end < good.length; end++) {
      if (boundaries.has(end)) continue;
      expect(read(good.subarray(0, end)), `first ${end} bytes`).toEqual({ ok: false, calls: [] });
    }
    const malformed = {
      "version 1": [0x41, 201, 0, 1, ...u32(1)],
      "length past the end": [0x80, 201, 0, 2, ...u32(1)],
      "more report blocks than fit": part(201, 2, [...u32(1), ...block(1, 1)]),
      "an SR without its sender info": part(200, 0, [...u32(1), ...u32(2)]),
      "a REMB with more SSRCs than fit": part(206, 15, [
        ...u32(1),
        ...u32(0),
        ...Buffer.from("REMB"),
        3,
        0,
        0,
        1,
        ...u32(9),
      ]),
      "a REMB cut short": part(206, 15, [...u32(1), ...u32(0), ...Buffer.from("REMB")]),
      "a NACK without entries": part(205, 1, [...u32(1), ...u32(2)]),
      "a PLI without its media SSRC": part(206, 1, [...u32(1)]),
      "a FIR with half an entry": part(206, 4, [...u32(1), ...u32(0), ...u32(5)]),
      "padding before the last part": [...part(201, 0, [...u32(1)], 4), ...rr()],
      "a padding count of zero": [0xa0, 201, 0, 2, ...u32(1), 0, 0, 0, 0],
      "a padding count past the part": [0xa0, 201, 0, 1, 0, 0, 0, 9],
      "a trailing partial header": [...rr(), 0x80, 201],
    };
    for (const [what, packet] of Object.entries(malformed)) {
      expect(read(Uint8Array.from(packet)), what).toEqual({ ok: false, calls: [] });
    }
  });

  it("never throws on random bytes", () => {
    let state = 1;
    const random = () => (state = (state * 1_103_515_245 + 12_345) >>> 0) >>> 24;
    for (let i = 0; i < 5_000; i++) {
      const packet = Uint8Array.from({ length: random() % 64 }, random);
      if (packet.length > 1) packet[0] = 0x80 | (packet[0]! & 0x3f); // mostly version 2
      expect(() => read(packet)).not.toThrow();
    }
  });
});
