/**
 * A Producer is one track a participant publishes (mediasoup's name for it): the werift
 * receiving transceiver, one werift track per simulcast layer, and the consumers that
 * currently take each layer. It fans RTP out without decoding it.
 */
import { randomUUID } from "node:crypto";
import {
  type Extensions,
  RTP_EXTENSION_URI,
  RtpHeader,
  RtpPacket,
  type MediaStreamTrack,
  type RTCRtpTransceiver,
} from "werift";
import { isVp8KeyFrameStart } from "./vp8";
import type { MediaKind, SimulcastLayer, TrackInfo, TrackSource } from "./protocol";
import { live, rtp } from "./stats";
import { TypedEmitter } from "./typed-emitter";

/** `null` is the one layer of a track without simulcast. */
export type LayerKey = SimulcastLayer | null;

/** What a producer hands each packet to: a consumer, for the layer it takes. */
export interface RtpSink {
  forward(packet: RtpPacket, layer: LayerKey, keyFrame: boolean): void;
}

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
    for (const key of keys) this.layers.set(key, { sinks: new Set(), lastKeyFrameRequest: 0, packets: 0 });
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

  /** Layers that have received at least one packet, lowest first. */
  activeLayers(): LayerKey[] {
    return [...this.layers].filter(([, layer]) => layer.packets > 0).map(([key]) => key);
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
    void this.transceiver.receiver.sendRtcpPLI(ssrc).catch(() => {});
  }

  /** Idempotent. Consumers and the room learn of it through `closed`. */
  close(): void {
    if (this.closed_) return;
    this.closed_ = true;
    live.producers--;
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    for (const layer of this.layers.values()) {
      layer.sinks.clear();
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
    layer.ssrc = packet.header.ssrc;
    if (layer.packets++ === 0) this.emit("layerActive", key);
    if (this.source === "mic" && extensions) {
      const level = extensions[RTP_EXTENSION_URI.audioLevelIndication] as { level: number } | undefined;
      if (level) this.emit("audioLevel", level.level);
    }
    if (layer.sinks.size === 0) return;
    const keyFrame = this.kind === "video" && isVp8KeyFrameStart(packet.payload);
    const forwarded = withoutExtensions(packet);
    for (const sink of layer.sinks) sink.forward(forwarded, key, keyFrame);
  }
}

/**
 * The publisher's header extension ids mean nothing on a subscriber's connection (each
 * negotiates its own), so forwarded packets carry none; the sender adds its own.
 */
function withoutExtensions(packet: RtpPacket): RtpPacket {
  const h = packet.header;
  const header = new RtpHeader({
    marker: h.marker,
    payloadType: h.payloadType,
    sequenceNumber: h.sequenceNumber,
    timestamp: h.timestamp,
    ssrc: h.ssrc,
    padding: false,
  });
  return new RtpPacket(header, packet.payload);
}
