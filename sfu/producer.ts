/**
 * A Producer is one track a participant publishes (mediasoup's name for it): the werift
 * receiving transceiver, one werift track per simulcast layer, and the consumers that
 * currently take each layer. It fans RTP out without decoding it.
 */
import { randomUUID } from "node:crypto";
import { type Extensions, RTP_EXTENSION_URI, type MediaStreamTrack, type RTCRtpTransceiver, type RtpPacket } from "werift";
import { type MediaPacket, PacketCache } from "./media-packet";
import { isVp8KeyFrameStart, readVp8Fields } from "./vp8";
import type { MediaKind, SimulcastLayer, TrackInfo, TrackSource } from "./protocol";
import { live, producers, rtp } from "./stats";
import { TypedEmitter } from "./typed-emitter";

/** `null` is the one layer of a track without simulcast. */
export type LayerKey = SimulcastLayer | null;

/** What a producer hands each packet to: a consumer, for the layer it takes. */
export interface RtpSink {
  forward(packet: MediaPacket, layer: LayerKey): void;
}

/** Receive rates are measured over windows of this length. */
const RATE_WINDOW_MS = 1_000;

/** Key-frame requests per layer are forwarded upstream at most this often. */
const KEY_FRAME_REQUEST_INTERVAL_MS = 500;

type ProducerEvents = {
  closed: [];
  muted: [boolean];
  /** A layer started flowing (its first packet arrived). */
  layerActive: [LayerKey];
  /** Audio level of a mic, in -dBov (0 loudest, 127 silence), for active-speaker detection. */
  audioLevel: [number];
};

interface Layer {
  track?: MediaStreamTrack;
  ssrc?: number;
  sinks: Set<RtpSink>;
  lastKeyFrameRequest: number;
  deferredRequest?: NodeJS.Timeout;
  packets: number;
  bytes: number;
  /** Recent packets, for retransmission on a subscriber's NACK (video only). */
  cache: PacketCache;
  lastPacketAt: number;
  windowStart: number;
  windowBytes: number;
  windowPackets: number;
  /** Bits/s and packets/s over the last complete window. */
  bitrate: number;
  packetRate: number;
}

/** What /stats shows of one layer. */
export interface LayerStats {
  layer: LayerKey;
  packets: number;
  bitrate: number;
  packetRate: number;
}

export class Producer extends TypedEmitter<ProducerEvents> {
  readonly id = randomUUID();
  readonly kind: MediaKind;
  private readonly layers = new Map<LayerKey, Layer>();
  private closed_ = false;
  private muted_: boolean;
  private readonly unsubscribers: Array<() => void> = [];

  constructor(
    readonly peerId: string,
    readonly source: TrackSource,
    readonly mid: string,
    private readonly transceiver: RTCRtpTransceiver,
    /** Simulcast layers announced in the offer; empty for a single-layer track. */
    readonly simulcastLayers: SimulcastLayer[],
    muted: boolean,
  ) {
    super();
    live.producers++;
    this.kind = transceiver.kind === "audio" ? "audio" : "video";
    this.muted_ = muted;
    const keys: LayerKey[] = simulcastLayers.length > 0 ? simulcastLayers : [null];
    for (const key of keys) {
      this.layers.set(key, {
        sinks: new Set(),
        lastKeyFrameRequest: 0,
        packets: 0,
        bytes: 0,
        cache: new PacketCache(),
        lastPacketAt: 0,
        windowStart: 0,
        windowBytes: 0,
        windowPackets: 0,
        bitrate: 0,
        packetRate: 0,
      });
    }
    producers.add(this);
    // Tracks may have arrived while the offer was applied, before this producer existed.
    for (const track of transceiver.receiver.tracks) this.adoptTrack(track);
    const { unSubscribe } = transceiver.onTrack.subscribe((track) => this.adoptTrack(track));
    this.unsubscribers.push(unSubscribe);
  }

  get closed(): boolean {
    return this.closed_;
  }

  get muted(): boolean {
    return this.muted_;
  }

  info(): TrackInfo {
    return {
      trackId: this.id,
      peerId: this.peerId,
      source: this.source,
      kind: this.kind,
      muted: this.muted_,
      layers: [...this.simulcastLayers],
    };
  }

  /**
   * Layers flowing now (a packet in the last 1.5 s), lowest first. A publisher drops its
   * upper layers when its own bandwidth shrinks; consumers then move down.
   */
  activeLayers(): LayerKey[] {
    const since = performance.now() - 1_500;
    return [...this.layers].filter(([, layer]) => layer.packets > 0 && layer.lastPacketAt >= since).map(([key]) => key);
  }

  /** Receive rate of a layer in bits/s (0 when it stopped flowing). */
  bitrate(layer: LayerKey): number {
    const entry = this.layers.get(layer);
    if (!entry || performance.now() - entry.lastPacketAt > 2 * RATE_WINDOW_MS) return 0;
    return entry.bitrate;
  }

  layerStats(): LayerStats[] {
    return [...this.layers.keys()].map((layer) => {
      const entry = this.layers.get(layer)!;
      const stale = performance.now() - entry.lastPacketAt > 2 * RATE_WINDOW_MS;
      return { layer, packets: entry.packets, bitrate: stale ? 0 : entry.bitrate, packetRate: stale ? 0 : entry.packetRate };
    });
  }

  /** A recent packet of a layer, for retransmission. */
  cached(layer: LayerKey, sequenceNumber: number): MediaPacket | undefined {
    return this.layers.get(layer)?.cache.get(sequenceNumber);
  }

  /** Every layer key this producer can ever have, lowest first. */
  layerKeys(): LayerKey[] {
    return [...this.layers.keys()];
  }

  setMuted(muted: boolean): void {
    if (this.closed_ || muted === this.muted_) return;
    this.muted_ = muted;
    this.emit("muted", muted);
  }

  attach(sink: RtpSink, layer: LayerKey): void {
    this.layers.get(layer)?.sinks.add(sink);
  }

  detach(sink: RtpSink, layer?: LayerKey): void {
    if (layer !== undefined) this.layers.get(layer)?.sinks.delete(sink);
    else for (const entry of this.layers.values()) entry.sinks.delete(sink);
  }

  /**
   * Asks the publisher for a key frame on a layer, at most every 500 ms per layer. A request
   * inside that window is not dropped but coalesced into one sent when the window ends, so
   * a subscriber that connects just after another's request still gets its key frame soon.
   */
  requestKeyFrame(layer: LayerKey): void {
    const entry = this.layers.get(layer);
    if (this.closed_ || this.kind !== "video" || !entry?.ssrc || entry.deferredRequest) return;
    const wait = entry.lastKeyFrameRequest + KEY_FRAME_REQUEST_INTERVAL_MS - Date.now();
    if (wait > 0) {
      entry.deferredRequest = setTimeout(() => {
        entry.deferredRequest = undefined;
        this.requestKeyFrame(layer);
      }, wait);
      entry.deferredRequest.unref();
      return;
    }
    entry.lastKeyFrameRequest = Date.now();
    const ssrc = entry.ssrc;
    rtp.keyFrameRequests++;
    void this.transceiver.receiver.sendRtcpPLI(ssrc).catch(() => {});
  }

  /** Idempotent. Consumers and the room learn of it through `closed`. */
  close(): void {
    if (this.closed_) return;
    this.closed_ = true;
    live.producers--;
    producers.delete(this);
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    for (const layer of this.layers.values()) {
      layer.sinks.clear();
      layer.cache.clear();
      clearTimeout(layer.deferredRequest);
    }
    this.emit("closed");
    this.removeAllListeners();
  }

  private adoptTrack(track: MediaStreamTrack): void {
    const key = this.layerKeyOf(track);
    if (key === undefined) return;
    const layer = this.layers.get(key);
    if (!layer || layer.track === track) return;
    layer.track = track;
    const { unSubscribe } = track.onReceiveRtp.subscribe((packet, extensions) =>
      this.receive(key, layer, packet, extensions),
    );
    this.unsubscribers.push(unSubscribe);
  }

  private layerKeyOf(track: MediaStreamTrack): LayerKey | undefined {
    if (this.simulcastLayers.length === 0) return track.rid ? undefined : null;
    // werift also makes an SSRC track for the m-line's a=ssrc; with simulcast only rids count.
    return this.simulcastLayers.find((layer) => layer === track.rid);
  }

  private receive(key: LayerKey, layer: Layer, packet: RtpPacket, extensions?: Extensions): void {
    if (this.closed_) return;
    rtp.received++;
    const now = performance.now();
    const { header, payload } = packet;
    layer.ssrc = header.ssrc;
    layer.bytes += payload.length;
    this.measure(layer, payload.length, now);
    if (layer.packets++ === 0) this.emit("layerActive", key);
    if (this.source === "mic" && extensions) {
      const level = extensions[RTP_EXTENSION_URI.audioLevelIndication] as { level: number } | undefined;
      if (level) this.emit("audioLevel", level.level);
    }
    const video = this.kind === "video";
    // Header extensions are not carried over: their ids are per connection, and each
    // consumer writes its own.
    const media: MediaPacket = {
      payload,
      sequenceNumber: header.sequenceNumber,
      timestamp: header.timestamp,
      marker: header.marker,
      keyFrame: video && isVp8KeyFrameStart(payload),
      receivedAt: now,
      pictureIdAt: -1,
      pictureIdLong: false,
      tl0PicIdxAt: -1,
    };
    if (video) {
      readVp8Fields(payload, media);
      layer.cache.add(media);
    }
    for (const sink of layer.sinks) sink.forward(media, key);
  }

  private measure(layer: Layer, bytes: number, now: number): void {
    layer.lastPacketAt = now;
    if (now - layer.windowStart >= RATE_WINDOW_MS) {
      const elapsed = now - layer.windowStart;
      if (layer.windowStart > 0 && elapsed < 2 * RATE_WINDOW_MS) {
        layer.bitrate = Math.round((layer.windowBytes * 8 * 1000) / elapsed);
        layer.packetRate = Math.round((layer.windowPackets * 1000) / elapsed);
      } else {
        layer.bitrate = layer.packetRate = 0;
      }
      layer.windowStart = now;
      layer.windowBytes = 0;
      layer.windowPackets = 0;
    }
    layer.windowBytes += bytes;
    layer.windowPackets++;
  }
}
