/**
 * Pipes between media workers (docs/sfu.md, "Workers"). A room spread over several workers
 * has each published track piped once to every other worker of the room: the origin
 * worker's Producer feeds a {@link PipeSink}, which posts each decrypted packet over the
 * MessagePort the two workers share; the other worker's {@link PipeProducer} stands in for
 * the Producer there, and its consumers treat it as one. What flows back upstream: which
 * layers that worker's consumers take (only those are piped) and key-frame requests. What
 * flows down besides packets: each layer's state (flowing, stalled, rates), so consumers
 * choose among layers that are not piped at the moment.
 *
 * One {@link PipeLink} per pair of workers carries every pipe between them, both ways;
 * the worker that wants a track opens the pipe and numbers it.
 */
import type { MessagePort } from "node:worker_threads";
import { type MediaPacket, PacketCache } from "./media-packet";
import {
  type LayerCore,
  type LayerKey,
  type Producer,
  ProducerBase,
  type RtpSink,
} from "./producer";
import type { MediaKind, SimulcastLayer, TrackInfo, TrackSource } from "./protocol";
import { every } from "./ticker";

/** How often the origin reports its layers' state (rates) down a pipe besides on changes. */
const LAYER_REPORT_MS = 500;

/** A layer's state at the origin, as a PipeProducer reports it. */
export interface PipedLayerState {
  layer: LayerKey;
  active: boolean;
  packets: number;
  bitrate: number;
  packetRate: number;
}

/**
 * Control messages between two workers. Packets travel as arrays of framed packets (see
 * {@link PipeLink.postPacket}), in order with the control messages.
 */
export type LinkMessage =
  /** Downstream → origin: start a pipe for this track (no layer yet). */
  | { t: "open"; pipe: number; trackId: string }
  /** Downstream → origin: this worker's consumers take (or no longer take) a layer. */
  | { t: "want"; pipe: number; layer: LayerKey; on: boolean }
  /** Downstream → origin: a subscriber needs a key frame of a layer (PLI/FIR). */
  | { t: "key"; pipe: number; layer: LayerKey }
  | { t: "close"; pipe: number }
  /** Origin → downstream: layer states, on every change and every 500 ms. */
  | { t: "layers"; pipe: number; layers: PipedLayerState[] }
  /** Origin → downstream: the track is gone (or was never here). */
  | { t: "gone"; pipe: number };

// Packet framing: pipe u32, layer u8, flags u8, sequence u16, timestamp u32, audio level u8
// (255: none), 3 spare, receivedAt f64 (ms since the epoch, performance.timeOrigin-based,
// so the forwarding delay counts from the origin's receipt), payload.
const HEADER = 24;
const FLAG_MARKER = 1;
const FLAG_KEY_FRAME = 2;
const NO_LEVEL = 255;
const LAYER_CODES: LayerKey[] = [null, "low", "medium", "high"];

function layerCode(layer: LayerKey): number {
  return LAYER_CODES.indexOf(layer);
}

/** Frames one packet for the pipe (exported for tests). */
export function encodePacket(
  pipe: number,
  layer: LayerKey,
  packet: MediaPacket,
  level: number,
): Uint8Array {
  const out = new Uint8Array(HEADER + packet.payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, pipe);
  out[4] = layerCode(layer);
  out[5] = (packet.marker ? FLAG_MARKER : 0) | (packet.keyFrame ? FLAG_KEY_FRAME : 0);
  view.setUint16(6, packet.sequenceNumber);
  view.setUint32(8, packet.timestamp);
  out[12] = level < 0 ? NO_LEVEL : level;
  view.setFloat64(16, performance.timeOrigin + packet.receivedAt);
  out.set(packet.payload, HEADER);
  return out;
}

/** The inverse of {@link encodePacket}. */
export function decodePacket(data: Uint8Array): {
  pipe: number;
  layer: LayerKey;
  packet: MediaPacket;
  level: number;
} {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const packet: MediaPacket = {
    payload: Buffer.from(data.buffer, data.byteOffset + HEADER, data.byteLength - HEADER),
    sequenceNumber: view.getUint16(6),
    timestamp: view.getUint32(8),
    marker: (data[5]! & FLAG_MARKER) !== 0,
    keyFrame: (data[5]! & FLAG_KEY_FRAME) !== 0,
    receivedAt: view.getFloat64(16) - performance.timeOrigin,
    pictureIdAt: -1,
    pictureIdLong: false,
    tl0PicIdxAt: -1,
  };
  const level = data[12]!;
  return {
    pipe: view.getUint32(0),
    layer: LAYER_CODES[data[4]!] ?? null,
    packet,
    level: level === NO_LEVEL ? -1 : level,
  };
}

/** Both directions of every pipe between this worker and one other. */
export class PipeLink {
  private nextPipe = 1;
  /** Pipes this worker opened: the other worker's tracks, here. */
  private readonly incoming = new Map<number, PipeProducer>();
  /** Pipes the other worker opened on this worker's producers. */
  private readonly outgoing = new Map<number, PipeSink>();
  private closed_ = false;
  /** Packets framed in this turn of the event loop, and their buffers (moved, not copied). */
  private batch: Uint8Array[] = [];
  private batchBuffers: ArrayBuffer[] = [];
  private flushScheduled = false;

  constructor(
    /** The other worker's index. */
    readonly peer: number,
    private readonly port: MessagePort,
    /** This worker's live producer with that track id, if any. */
    private readonly findProducer: (trackId: string) => Producer | undefined,
  ) {
    port.on("message", (message: LinkMessage | Uint8Array[]) => this.receive(message));
    port.on("close", () => this.close());
  }

  get closed(): boolean {
    return this.closed_;
  }

  /** Pipes a track of the other worker here; its packets flow once a consumer takes a layer. */
  open(info: TrackInfo): PipeProducer {
    const pipe = this.nextPipe++;
    const producer = new PipeProducer(info, this, pipe);
    this.incoming.set(pipe, producer);
    producer.on("closed", () => {
      this.incoming.delete(pipe);
      this.post({ t: "close", pipe });
    });
    this.post({ t: "open", pipe, trackId: info.trackId });
    return producer;
  }

  /** A control message, after the packets posted before it. */
  post(message: LinkMessage): void {
    if (this.closed_) return;
    this.flush();
    this.port.postMessage(message);
  }

  /**
   * One packet down a pipe; its buffer moves to the other worker (no copy). The packets of
   * one turn of the event loop go as one message, at the end of the turn (`setImmediate`,
   * after the I/O callbacks that produced them): a message costs both threads more than a
   * packet does (serialising, waking the other thread, its dispatch there), and a publisher's
   * packets arrive in bursts (a frame's, a pacer's): at 50 subscribers on two workers, with
   * one message per packet, `postMessage` was a sixth of the origin worker's JavaScript
   * profile; batched, a message carries ~2 packets. docs/sfu.md, "Workers".
   */
  postPacket(data: Uint8Array): void {
    if (this.closed_) return;
    this.batch.push(data);
    this.batchBuffers.push(data.buffer as ArrayBuffer);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushAtEndOfTurn);
    }
  }

  private readonly flushAtEndOfTurn = (): void => {
    this.flushScheduled = false;
    this.flush();
  };

  private flush(): void {
    if (this.batch.length === 0 || this.closed_) return;
    const packets = this.batch;
    const buffers = this.batchBuffers;
    this.batch = [];
    this.batchBuffers = [];
    this.port.postMessage(packets, buffers);
  }

  /** Idempotent: ends every pipe both ways (the other worker went away, or this one stops). */
  close(): void {
    if (this.closed_) return;
    this.closed_ = true;
    this.batch = [];
    this.batchBuffers = [];
    for (const sink of [...this.outgoing.values()]) sink.close();
    this.outgoing.clear();
    for (const producer of [...this.incoming.values()]) producer.close();
    this.incoming.clear();
    this.port.close();
  }

  private receive(message: LinkMessage | Uint8Array[]): void {
    if (Array.isArray(message)) {
      for (const data of message) {
        const { pipe, layer, packet, level } = decodePacket(data);
        this.incoming.get(pipe)?.receive(layer, packet, level);
      }
      return;
    }
    switch (message.t) {
      case "open": {
        const producer = this.findProducer(message.trackId);
        if (!producer || producer.closed) {
          this.post({ t: "gone", pipe: message.pipe });
          return;
        }
        const sink = new PipeSink(producer, this, message.pipe);
        this.outgoing.set(message.pipe, sink);
        sink.onClose = () => this.outgoing.delete(message.pipe);
        return;
      }
      case "want":
        this.outgoing.get(message.pipe)?.want(message.layer, message.on);
        return;
      case "key":
        this.outgoing.get(message.pipe)?.requestKeyFrame(message.layer);
        return;
      case "close":
        this.outgoing.get(message.pipe)?.close();
        return;
      case "layers":
        this.incoming.get(message.pipe)?.updateLayers(message.layers);
        return;
      case "gone":
        this.incoming.get(message.pipe)?.close();
        return;
    }
  }
}

/** The origin's end of one pipe: a sink on the producer for the layers the other worker takes. */
export class PipeSink implements RtpSink {
  onClose: (() => void) | undefined;
  private readonly wanted = new Set<LayerKey>();
  /** The audio level of the packet being forwarded (the producer reports it just before). */
  private level = -1;
  private readonly stopReports: () => void;
  private readonly off: () => void;
  private closed = false;

  constructor(
    private readonly producer: Producer,
    private readonly link: PipeLink,
    readonly pipe: number,
  ) {
    const onLevel = (level: number) => (this.level = level);
    const onLayers = () => this.reportLayers();
    const onClosed = () => {
      this.link.post({ t: "gone", pipe });
      this.close();
    };
    producer
      .on("audioLevel", onLevel)
      .on("layerActive", onLayers)
      .on("layerStalled", onLayers)
      .on("closed", onClosed);
    this.off = () =>
      producer
        .off("audioLevel", onLevel)
        .off("layerActive", onLayers)
        .off("layerStalled", onLayers)
        .off("closed", onClosed);
    this.stopReports = every(LAYER_REPORT_MS, onLayers);
    this.reportLayers();
  }

  forward(packet: MediaPacket, layer: LayerKey): void {
    this.link.postPacket(encodePacket(this.pipe, layer, packet, this.level));
    this.level = -1;
  }

  want(layer: LayerKey, on: boolean): void {
    if (this.closed || !this.producer.layerKeys().includes(layer)) return;
    if (on) {
      this.wanted.add(layer);
      this.producer.attach(this, layer);
    } else {
      this.wanted.delete(layer);
      this.producer.detach(this, layer);
    }
  }

  requestKeyFrame(layer: LayerKey): void {
    if (!this.closed) this.producer.requestKeyFrame(layer);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopReports();
    this.off();
    this.producer.detach(this);
    this.onClose?.();
  }

  private reportLayers(): void {
    if (this.closed) return;
    const active = new Set(this.producer.activeLayers());
    const stats = this.producer.layerStats();
    this.link.post({
      t: "layers",
      pipe: this.pipe,
      layers: stats.map(({ layer, packets, bitrate, packetRate }) => ({
        layer,
        active: active.has(layer),
        packets,
        bitrate,
        packetRate,
      })),
    });
  }
}

interface PipedLayer extends LayerCore {
  state: PipedLayerState;
}

/**
 * Another worker's track, here: what a Producer is to consumers (layers, their state, the
 * packet cache for NACKs, key-frame requests), fed by the pipe. The origin's Producer does
 * the upstream work (NACKs, key-frame rate limits, stall detection); this one follows it.
 */
export class PipeProducer extends ProducerBase<PipedLayer> {
  readonly id: string;
  readonly peerId: string;
  readonly source: TrackSource;
  readonly kind: MediaKind;
  readonly simulcastLayers: SimulcastLayer[];

  constructor(
    info: TrackInfo,
    private readonly link: PipeLink,
    readonly pipe: number,
  ) {
    super(info.muted, info.layers, (layer) => ({
      sinks: new Set(),
      cache: new PacketCache(),
      state: { layer, active: false, packets: 0, bitrate: 0, packetRate: 0 },
    }));
    this.id = info.trackId;
    this.peerId = info.peerId;
    this.source = info.source;
    this.kind = info.kind;
    this.simulcastLayers = [...info.layers];
  }

  activeLayers(): LayerKey[] {
    return [...this.layers].filter(([, l]) => l.state.active).map(([key]) => key);
  }

  bitrate(layer: LayerKey): number {
    return this.layers.get(layer)?.state.bitrate ?? 0;
  }

  /** Forwarded to the origin, which rate-limits it per layer for all its subscribers. */
  requestKeyFrame(layer: LayerKey): void {
    if (!this.closed && this.kind === "video") this.link.post({ t: "key", pipe: this.pipe, layer });
  }

  /** A packet from the pipe. */
  receive(layer: LayerKey, packet: MediaPacket, level: number): void {
    const entry = this.layers.get(layer);
    if (!entry || this.closed) return;
    if (level >= 0) this.emit("audioLevel", level);
    this.fanOut(layer, entry, packet);
  }

  /** The origin's layer states: consumers reselect when one starts or stops flowing. */
  updateLayers(states: PipedLayerState[]): void {
    for (const state of states) {
      const entry = this.layers.get(state.layer);
      if (!entry) continue;
      const was = entry.state.active;
      entry.state = state;
      if (state.active && !was) this.emit("layerActive", state.layer);
      else if (!state.active && was) this.emit("layerStalled", state.layer);
    }
  }

  /** The origin sends a layer only while some consumer here takes it. */
  protected override layerWanted(layer: LayerKey, on: boolean): void {
    this.link.post({ t: "want", pipe: this.pipe, layer, on });
  }

  protected closing(): void {}
}
