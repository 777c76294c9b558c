/**
 * A consumer's rewriting (consumer.ts) with packets arriving as a lossy uplink delivers
 * them: late ones (a loss the publisher resent) among the rest, a layer switch right after
 * one, and the sequence-number wrap. What the subscriber must see: one stream whose
 * sequence numbers, picture ids and timestamps never repeat, sealed with the right SRTP
 * rollover counter.
 */
import type { RTCRtpTransceiver } from "werift";
import { afterEach, describe, expect, it } from "vitest";
import { Consumer } from "../consumer";
import { type MediaPacket, PacketCache } from "../media-packet";
import { type LayerCore, type LayerKey, ProducerBase } from "../producer";
import type { SimulcastLayer } from "../protocol";
import { scratch } from "../srtp/aes-gcm";
import type { FastTransport } from "../srtp/fast-transport";
import { VP8_DESCRIPTOR_LENGTH, writeVp8Descriptor, writeVp8FrameHeader } from "../vp8";

/** A simulcast track whose packets the test hands over itself. */
class TestProducer extends ProducerBase<LayerCore> {
  readonly id = "track";
  readonly peerId = "publisher";
  readonly source = "camera";
  readonly kind = "video";
  readonly simulcastLayers: SimulcastLayer[] = ["low", "high"];

  constructor() {
    super(false, ["low", "high"], () => ({ sinks: new Set(), cache: new PacketCache() }));
  }

  activeLayers(): LayerKey[] {
    return ["low", "high"];
  }

  bitrate(): number {
    return 0;
  }

  requestKeyFrame(): void {}

  protected closing(): void {}

  push(layer: SimulcastLayer, packet: MediaPacket): void {
    this.fanOut(layer, this.layers.get(layer)!, packet);
  }
}

/** One packet of a one-packet VP8 frame. */
function frame(sequenceNumber: number, pictureId: number, keyFrame = false): MediaPacket {
  const payload = Buffer.alloc(VP8_DESCRIPTOR_LENGTH + 20);
  writeVp8Descriptor(payload, pictureId, true);
  writeVp8FrameHeader(payload, VP8_DESCRIPTOR_LENGTH, keyFrame, 16);
  return {
    payload,
    sequenceNumber,
    timestamp: (pictureId * 3000) >>> 0,
    marker: true,
    keyFrame,
    receivedAt: performance.now(),
    pictureIdAt: -1,
    pictureIdLong: false,
    tl0PicIdxAt: -1,
  };
}

interface Sent {
  seq: number;
  roc: number;
  timestamp: number;
  pictureId: number;
}

/** A consumer on `producer` whose packets are read back as the subscriber would get them. */
function subscribe(producer: TestProducer) {
  const sent: Sent[] = [];
  const transceiver = {
    sender: {
      ssrc: 0x1234,
      codec: { payloadType: 96 },
      stopped: false,
      dtlsTransport: { state: "connected" },
    },
    headerExtensions: [],
    mid: "1",
  } as unknown as RTCRtpTransceiver;
  const transport = {
    sendScratch(headerLength: number, _length: number, _ssrc: number, roc: number, seq: number) {
      const out = Buffer.from(scratch().buffer, scratch().byteOffset, headerLength + 4);
      expect(out.readUInt16BE(2)).toBe(seq);
      const pictureId = out.readUInt16BE(headerLength + 2) & 0x7fff;
      sent.push({ seq, roc, timestamp: out.readUInt32BE(4), pictureId });
      return true;
    },
    forget() {},
  } as unknown as FastTransport;
  const consumer = new Consumer(producer, transceiver);
  consumer.setTransport(transport);
  consumer.setTileSize(320, 180);
  consumer.start();
  return { consumer, sent };
}

const consumers: Consumer[] = [];
afterEach(() => {
  for (const consumer of consumers.splice(0)) consumer.close();
});

describe("Consumer", () => {
  it("a layer switch right after a late packet continues after everything sent: no sequence number, picture id or timestamp repeats", () => {
    const producer = new TestProducer();
    const { consumer, sent } = subscribe(producer);
    consumers.push(consumer);
    expect(consumer.layer).toBe("low");
    producer.push("low", frame(1000, 100, true));
    // 1005 is lost on the way in; the publisher resends it after 1010.
    for (let k = 1; k <= 10; k++) if (k !== 5) producer.push("low", frame(1000 + k, 100 + k));
    producer.push("low", frame(1005, 105));
    expect(sent.map((p) => p.seq)).toEqual([
      1000, 1001, 1002, 1003, 1004, 1006, 1007, 1008, 1009, 1010, 1005,
    ]);
    // The tile grows: the high layer's key frame is the next packet the consumer takes.
    consumer.setTileSize(1280, 720);
    producer.push("high", frame(40_000, 7_000, true));
    producer.push("high", frame(40_001, 7_001));
    expect(consumer.layer).toBe("high");
    const [key, next] = sent.slice(-2) as [Sent, Sent];
    const before = sent.slice(0, -2);
    expect(key.seq).toBe(1011);
    expect(next.seq).toBe(1012);
    expect(key.pictureId).toBe(111);
    expect(next.pictureId).toBe(112);
    const newest = Math.max(...before.map((p) => p.timestamp));
    expect(key.timestamp).toBeGreaterThan(newest);
    expect(next.timestamp).toBeGreaterThan(key.timestamp);
  });

  it("a packet from before the sequence-number wrap, arriving after it, is sealed with the rollover counter it belongs to, and the ones after keep theirs", () => {
    const producer = new TestProducer();
    const { consumer, sent } = subscribe(producer);
    consumers.push(consumer);
    // The first packet sets the consumer's numbering: out = in.
    producer.push("low", frame(65_530, 1, true));
    const order = [65_531, 65_532, 65_533, 65_535, 0, 1, 2, 65_534, 3, 4];
    for (const seq of order) producer.push("low", frame(seq, seq < 100 ? seq + 7 : seq - 65_529));
    const roc = new Map(sent.map((p) => [p.seq, p.roc]));
    expect(sent.map((p) => p.seq)).toEqual([65_530, ...order]);
    for (const seq of [65_530, 65_531, 65_532, 65_533, 65_534, 65_535])
      expect(roc.get(seq)).toBe(0);
    for (const seq of [0, 1, 2, 3, 4]) expect(roc.get(seq)).toBe(1);
  });
});
