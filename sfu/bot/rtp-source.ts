/**
 * Synthetic media for the bot: RTP payloads shaped like the real thing, cheap to make.
 * - Audio: one Opus-shaped packet every 20 ms (timestamp +960 at 48 kHz) with an audio
 *   level, loud or silent.
 * - Video: VP8-shaped frames split into packets with valid payload descriptors (picture
 *   id, start bit), a marker on each frame's last packet, a key frame every N frames or
 *   on request; optionally several simulcast layers, each with its own SSRC and size.
 * Payload buffers are preallocated per layer and reused, so a long load run makes no garbage
 * beyond what werift itself allocates.
 */
import { VP8_DESCRIPTOR_LENGTH, writeVp8Descriptor, writeVp8FrameHeader } from "../vp8";

export interface OutgoingPacket {
  /** Simulcast layer index (0 = lowest); 0 for single-layer tracks. */
  layer: number;
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
  payload: Buffer;
  /** Audio level in -dBov, for audio packets. */
  audioLevel?: number;
}

export type PacketSink = (packet: OutgoingPacket) => void;

export interface VideoShape {
  fps: number;
  packetsPerFrame: number;
  /** Payload bytes of the top layer's packets; lower layers are 1/2 and 1/4 of it. */
  payloadSize: number;
  keyFrameInterval: number;
  layers: number;
  /**
   * Write the send time (ms, performance.timeOrigin + performance.now(), float64) at
   * {@link STAMP_OFFSET} of every packet, for latency measurements.
   */
  stamp?: boolean;
}

/** Where a stamped packet carries its send time: after the VP8 descriptor and frame header. */
export const STAMP_OFFSET = 16;

export const DEFAULT_VIDEO: VideoShape = {
  fps: 15,
  packetsPerFrame: 2,
  payloadSize: 800,
  keyFrameInterval: 60,
  layers: 1,
};

interface LayerState {
  seq: number;
  frames: number;
  pictureId: number;
  keyFrameRequested: boolean;
  payloads: Buffer[];
  keyFrames: number;
  paused: boolean;
}

const randomU16 = () => Math.floor(Math.random() * 0x10000);
const randomU32 = () => Math.floor(Math.random() * 0x100000000);

export class VideoSource {
  private readonly layers: LayerState[];
  private timer: NodeJS.Timeout | undefined;
  private timestamp = randomU32();
  private startedAt = 0;
  private frames = 0;
  /** Packets handed to the sink, all layers. */
  packetsSent = 0;

  constructor(
    private readonly shape: VideoShape,
    private readonly sink: PacketSink,
  ) {
    this.layers = Array.from({ length: shape.layers }, (_, index) => {
      const size = Math.max(32, Math.round(shape.payloadSize / 2 ** (shape.layers - 1 - index)));
      return {
        seq: randomU16(),
        frames: 0,
        pictureId: randomU16() & 0x7fff,
        keyFrameRequested: true,
        payloads: Array.from({ length: shape.packetsPerFrame }, () => Buffer.alloc(size, 0x55)),
        keyFrames: 0,
        paused: false,
      };
    });
  }

  start(): void {
    if (this.timer) return;
    this.startedAt = performance.now();
    this.frames = 0;
    // Timers fire late on a busy machine; catching up keeps the packet rate true to the shape.
    this.timer = setInterval(() => {
      const due =
        Math.floor(((performance.now() - this.startedAt) * this.shape.fps) / 1000) +
        1 -
        this.frames;
      for (let i = 0; i < Math.min(due, 5); i++) this.frame();
      if (due > 5) this.frames += due - 5; // hopelessly late: skip rather than burst
    }, 1000 / this.shape.fps);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Makes the next frame of `layer` (all layers when omitted) a key frame. */
  requestKeyFrame(layer?: number): void {
    for (const [index, state] of this.layers.entries()) {
      if (layer === undefined || layer === index) state.keyFrameRequested = true;
    }
  }

  /** Stops or resumes one layer; it resumes with a key frame. */
  pauseLayer(layer: number, paused: boolean): void {
    const state = this.layers[layer];
    if (!state || state.paused === paused) return;
    state.paused = paused;
    if (!paused) state.keyFrameRequested = true;
  }

  keyFramesSent(layer = 0): number {
    return this.layers[layer]?.keyFrames ?? 0;
  }

  private frame(): void {
    this.frames++;
    this.timestamp = (this.timestamp + Math.round(90_000 / this.shape.fps)) >>> 0;
    for (const [index, state] of this.layers.entries()) {
      if (state.paused) continue;
      const keyFrame = state.keyFrameRequested || state.frames % this.shape.keyFrameInterval === 0;
      state.keyFrameRequested = false;
      if (keyFrame) state.keyFrames++;
      state.frames++;
      state.pictureId = (state.pictureId + 1) & 0x7fff;
      const count = state.payloads.length;
      for (let i = 0; i < count; i++) {
        const payload = state.payloads[i]!;
        writeVp8Descriptor(payload, state.pictureId, i === 0);
        if (i === 0)
          writeVp8FrameHeader(payload, VP8_DESCRIPTOR_LENGTH, keyFrame, payload.length * count);
        if (this.shape.stamp && payload.length >= STAMP_OFFSET + 8) {
          payload.writeDoubleLE(performance.timeOrigin + performance.now(), STAMP_OFFSET);
        }
        state.seq = (state.seq + 1) & 0xffff;
        this.packetsSent++;
        this.sink({
          layer: index,
          sequenceNumber: state.seq,
          timestamp: this.timestamp,
          marker: i === count - 1,
          payload,
        });
      }
    }
  }
}

export class AudioSource {
  private timer: NodeJS.Timeout | undefined;
  private seq = randomU16();
  private timestamp = randomU32();
  private readonly payload = Buffer.alloc(80, 0x33);
  packetsSent = 0;
  /** -dBov: 30 is clear speech, 127 silence. */
  level = 127;

  constructor(private readonly sink: PacketSink) {
    // TOC byte: CELT-only, fullband, 20 ms, mono, one frame (RFC 6716 §3.1).
    this.payload[0] = 0xf8;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.seq = (this.seq + 1) & 0xffff;
      this.timestamp = (this.timestamp + 960) >>> 0;
      this.packetsSent++;
      this.sink({
        layer: 0,
        sequenceNumber: this.seq,
        timestamp: this.timestamp,
        marker: false,
        payload: this.payload,
        audioLevel: this.level,
      });
    }, 20);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
