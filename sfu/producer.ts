/**
 * A Producer is one track a participant publishes (mediasoup's name for it): the werift
 * receiving transceiver, one werift track per simulcast layer, and the consumers that
 * currently take each layer. It fans RTP out without decoding it.
 */
import { randomUUID } from "node:crypto";
import {
  type Extensions,
  GenericNack,
  RTP_EXTENSION_URI,
  type MediaStreamTrack,
  RtcpTransportLayerFeedback,
  type RTCRtpTransceiver,
  type RtpPacket,
} from "werift";
import { type MediaPacket, PacketCache } from "./media-packet";
import type { MediaRoute } from "./srtp/fast-transport";
import { findExtension } from "./transport-feedback";
import { UpstreamLoss, UPSTREAM_LOSS } from "./upstream-loss";
import { isVp8KeyFrameStart, readPictureId, readVp8Fields } from "./vp8";
import type { MediaKind, SimulcastLayer, TrackInfo, TrackSource } from "./protocol";
import { live, producers, rtp } from "./stats";
import { every } from "./ticker";
import { TypedEmitter } from "./typed-emitter";

/** `null` is the one layer of a track without simulcast. */
export type LayerKey = SimulcastLayer | null;

/** What a producer hands each packet to: a consumer, for the layer it takes. */
export interface RtpSink {
  forward(packet: MediaPacket, layer: LayerKey): void;
}

/** What werift's receiver statistics (`StreamStatistics.add`) read of a packet. */
interface StatsPacket {
  header: { sequenceNumber: number; timestamp: number; serializeSize: number };
  payload: { length: number };
}

/** Receive rates are measured over windows of this length. */
const RATE_WINDOW_MS = 1_000;

/** Key-frame requests per layer are forwarded upstream at most this often. */
const KEY_FRAME_REQUEST_INTERVAL_MS = 500;

/**
 * A layer with no media for this long has stopped flowing, whatever the others do (for
 * video: no frame; padding-only packets, which publishers send on paused layers too, do
 * not count).
 */
const LAYER_TIMEOUT_MS = 1_500;
/**
 * A layer that has sent no new frame for this long while another layer of the same track
 * sent {@link STALL_FRAMES} new frames has been paused by the publisher. Simulcast layers
 * encode the same captured frames, so a layer that misses several frames its sibling sent
 * is not merely delayed: consumers move off it at once, instead of after the 1.5 s timeout.
 */
const STALL_MIN_MS = 300;
const STALL_FRAMES = 3;

/** How long a lost packet may stay of unknown kind (no media after it yet) before it is let go. */
const UNDECIDED_MS = 2_000;

export type ProducerEvents = {
  closed: [];
  muted: [boolean];
  /** A layer started flowing: its first packet arrived, or its first new frame after a stall. */
  layerActive: [LayerKey];
  /** A layer stopped flowing while another still does (the publisher paused it). */
  layerStalled: [LayerKey];
  /** Audio level of a mic, in -dBov (0 loudest, 127 silence), for active-speaker detection. */
  audioLevel: [number];
};

interface Layer extends LayerCore {
  track?: MediaStreamTrack;
  ssrc?: number;
  /** What takes the layer's packets past werift, for its current SSRC. */
  route?: { ssrc: number; deliver: MediaRoute };
  lastKeyFrameRequest: number;
  deferredRequest?: NodeJS.Timeout;
  packets: number;
  bytes: number;
  /** What is missing from the publisher's stream, asked for again (video only). */
  loss: UpstreamLoss;
  /** Packets given up on whose kind (padding or media) is not known yet → until when to wait. */
  undecided: Map<number, number>;
  lastPacketAt: number;
  /** The newest RTP timestamp seen (-1: none), and when a packet with a newer one last came. */
  lastTimestamp: number;
  lastFrameAt: number;
  /** When the last {@link STALL_FRAMES} new frames started arriving, oldest first. */
  frameArrivals: number[];
  /** Reported as stalled (layerStalled) and not resumed since. */
  stalled: boolean;
  windowStart: number;
  windowBytes: number;
  windowPackets: number;
  /** Bits/s and packets/s over the last complete window. */
  bitrate: number;
  packetRate: number;
}

/**
 * What consumers and rooms use of a published track: a {@link Producer} (the publisher is
 * on this worker) or a PipeProducer (sfu/pipe.ts: it is on another worker, and its packets
 * come over the pipe).
 */
export interface ProducerLike extends TypedEmitter<ProducerEvents> {
  readonly id: string;
  readonly peerId: string;
  readonly source: TrackSource;
  readonly kind: MediaKind;
  readonly simulcastLayers: SimulcastLayer[];
  readonly closed: boolean;
  readonly muted: boolean;
  info(): TrackInfo;
  activeLayers(): LayerKey[];
  bitrate(layer: LayerKey): number;
  cached(layer: LayerKey, sequenceNumber: number): MediaPacket | undefined;
  layerKeys(): LayerKey[];
  setMuted(muted: boolean): void;
  attach(sink: RtpSink, layer: LayerKey): void;
  detach(sink: RtpSink, layer?: LayerKey): void;
  requestKeyFrame(layer: LayerKey): void;
  close(): void;
}

/** What participants are told of a track (`trackPublished`, `join`). */
export function trackInfo(
  track: Pick<ProducerLike, "id" | "peerId" | "source" | "kind" | "muted" | "simulcastLayers">,
): TrackInfo {
  return {
    trackId: track.id,
    peerId: track.peerId,
    source: track.source,
    kind: track.kind,
    muted: track.muted,
    layers: [...track.simulcastLayers],
  };
}

/** What /stats shows of one layer. */
export interface LayerStats {
  layer: LayerKey;
  packets: number;
  bitrate: number;
  packetRate: number;
}

/** What every layer of a published track has, here or piped: its sinks and its packet cache. */
export interface LayerCore {
  sinks: Set<RtpSink>;
  /** Recent packets, for retransmission on a subscriber's NACK (video only). */
  cache: PacketCache;
}

/**
 * What a {@link Producer} and a PipeProducer (sfu/pipe.ts) share, defined once: the
 * track's identity, its layers with their sinks and caches, mute state, attaching and
 * detaching sinks, fanning a packet out, and closing. Subclasses say where packets come
 * from and what a layer's first sink or last sink gone means upstream.
 */
export abstract class ProducerBase<L extends LayerCore>
  extends TypedEmitter<ProducerEvents>
  implements ProducerLike
{
  abstract readonly id: string;
  abstract readonly peerId: string;
  abstract readonly source: TrackSource;
  abstract readonly kind: MediaKind;
  abstract readonly simulcastLayers: SimulcastLayer[];
  protected readonly layers = new Map<LayerKey, L>();
  private closed_ = false;
  private muted_: boolean;

  /** `layers`: the track's simulcast layers (empty: one layer, `null`). */
  protected constructor(
    muted: boolean,
    layers: readonly SimulcastLayer[],
    make: (key: LayerKey) => L,
  ) {
    super();
    this.muted_ = muted;
    const keys: LayerKey[] = layers.length > 0 ? [...layers] : [null];
    for (const key of keys) this.layers.set(key, make(key));
  }

  get closed(): boolean {
    return this.closed_;
  }

  get muted(): boolean {
    return this.muted_;
  }

  info(): TrackInfo {
    return trackInfo(this);
  }

  abstract activeLayers(): LayerKey[];
  abstract bitrate(layer: LayerKey): number;
  abstract requestKeyFrame(layer: LayerKey): void;

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
    const entry = this.layers.get(layer);
    if (!entry || this.closed_ || entry.sinks.has(sink)) return;
    entry.sinks.add(sink);
    if (entry.sinks.size === 1) this.layerWanted(layer, true);
  }

  /** From one layer, or (no `layer`) from all. */
  detach(sink: RtpSink, layer?: LayerKey): void {
    for (const [key, entry] of this.layers) {
      if (layer !== undefined && key !== layer) continue;
      if (entry.sinks.delete(sink) && entry.sinks.size === 0 && !this.closed_)
        this.layerWanted(key, false);
    }
  }

  /** Idempotent. Consumers and the room learn of it through `closed`. */
  close(): void {
    if (this.closed_) return;
    this.closed_ = true;
    this.closing();
    for (const entry of this.layers.values()) {
      entry.sinks.clear();
      entry.cache.clear();
    }
    this.emit("closed");
    this.removeAllListeners();
  }

  /** A layer got its first sink (`true`) or lost its last one (`false`). */
  protected layerWanted(_layer: LayerKey, _wanted: boolean): void {}

  /** The subclass's own clean-up, before the layers are emptied and `closed` is emitted. */
  protected abstract closing(): void;

  /**
   * Hands a packet to the layer's sinks; a video packet is read for its VP8 fields first
   * and kept for retransmission.
   */
  protected fanOut(key: LayerKey, entry: L, packet: MediaPacket): void {
    if (this.kind === "video") {
      readVp8Fields(packet.payload, packet);
      entry.cache.add(packet);
    }
    for (const sink of entry.sinks) sink.forward(packet, key);
  }
}

export class Producer extends ProducerBase<Layer> {
  readonly id = randomUUID();
  readonly kind: MediaKind;
  /** Cancels the loss poll on the shared tick, while losses are pending. */
  private lossTimer: (() => void) | undefined;
  private readonly unsubscribers: Array<() => void> = [];
  /**
   * Told of every packet werift routed here: its stream, and what takes that stream's
   * packets past werift (the publish connection hands it to its FastTransport).
   */
  onStream: ((ssrc: number, payloadType: number, route: MediaRoute) => void) | undefined;

  constructor(
    readonly peerId: string,
    readonly source: TrackSource,
    readonly mid: string,
    private readonly transceiver: RTCRtpTransceiver,
    /** Simulcast layers announced in the offer; empty for a single-layer track. */
    readonly simulcastLayers: SimulcastLayer[],
    muted: boolean,
  ) {
    super(muted, simulcastLayers, () => ({
      sinks: new Set(),
      lastKeyFrameRequest: 0,
      packets: 0,
      bytes: 0,
      cache: new PacketCache(),
      loss: new UpstreamLoss(),
      undecided: new Map(),
      lastPacketAt: 0,
      lastTimestamp: -1,
      lastFrameAt: 0,
      frameArrivals: [],
      stalled: false,
      windowStart: 0,
      windowBytes: 0,
      windowPackets: 0,
      bitrate: 0,
      packetRate: 0,
    }));
    live.producers++;
    this.kind = transceiver.kind === "audio" ? "audio" : "video";
    producers.add(this);
    // Tracks may have arrived while the offer was applied, before this producer existed.
    for (const track of transceiver.receiver.tracks) this.adoptTrack(track);
    const { unSubscribe } = transceiver.onTrack.subscribe((track) => this.adoptTrack(track));
    this.unsubscribers.push(unSubscribe);
  }

  /**
   * Layers flowing now, lowest first: media in the last 1.5 s, and not stalled while
   * another layer goes on (see {@link STALL_MIN_MS}). A publisher pauses its upper layers
   * when its own bandwidth estimate or CPU drops; consumers then move down.
   */
  activeLayers(): LayerKey[] {
    const now = performance.now();
    return [...this.layers]
      .filter(
        ([, layer]) =>
          layer.packets > 0 &&
          now - this.lastMediaAt(layer) < LAYER_TIMEOUT_MS &&
          !this.isStalled(layer, now),
      )
      .map(([key]) => key);
  }

  /** When the layer's last media (audio, or a video frame) came. */
  private lastMediaAt(layer: Layer): number {
    return this.kind === "video" ? layer.lastFrameAt : layer.lastPacketAt;
  }

  /** Whether another layer has sent {@link STALL_FRAMES} new frames since this one's last. */
  private isStalled(layer: Layer, now: number): boolean {
    if (now - layer.lastFrameAt < STALL_MIN_MS) return false;
    for (const other of this.layers.values()) {
      if (other === layer || other.frameArrivals.length < STALL_FRAMES) continue;
      if (other.frameArrivals[0]! > layer.lastFrameAt) return true;
    }
    return false;
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
      return {
        layer,
        packets: entry.packets,
        bitrate: stale ? 0 : entry.bitrate,
        packetRate: stale ? 0 : entry.packetRate,
      };
    });
  }

  /**
   * Asks the publisher for a key frame on a layer, at most every 500 ms per layer. A request
   * inside that window is not dropped but coalesced into one sent when the window ends, so
   * a subscriber that connects just after another's request still gets its key frame soon.
   */
  requestKeyFrame(layer: LayerKey): void {
    const entry = this.layers.get(layer);
    if (this.closed || this.kind !== "video" || !entry?.ssrc || entry.deferredRequest) return;
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

  protected closing(): void {
    live.producers--;
    producers.delete(this);
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    for (const layer of this.layers.values()) clearTimeout(layer.deferredRequest);
    this.lossTimer?.();
    this.lossTimer = undefined;
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

  /** A packet werift parsed and routed (the first of each stream; RTX; without our SRTP). */
  private receive(key: LayerKey, layer: Layer, packet: RtpPacket, extensions?: Extensions): void {
    if (this.closed) return;
    const { header, payload } = packet;
    const level = extensions?.[RTP_EXTENSION_URI.audioLevelIndication] as
      { level: number } | undefined;
    this.take(
      key,
      layer,
      header.ssrc,
      header.sequenceNumber,
      header.timestamp,
      header.marker,
      payload,
      level?.level ?? -1,
    );
    this.onStream?.(header.ssrc, header.payloadType, this.routeOf(key, layer, header.ssrc));
  }

  /**
   * What takes this layer's packets straight from our SRTP (FastTransport), past werift's
   * parse and route: reads only what forwarding needs from the plaintext in place, and keeps
   * werift's receiver statistics (its receiver reports to the publisher) up to date.
   */
  private routeOf(key: LayerKey, layer: Layer, ssrc: number): MediaRoute {
    if (layer.route?.ssrc === ssrc) return layer.route.deliver;
    const receiver = this.transceiver.receiver as unknown as {
      remoteStreams: Record<number, { add(packet: StatsPacket): void } | undefined>;
    };
    const levelId =
      this.source === "mic"
        ? this.transceiver.headerExtensions.find(
            (e) => e.uri === RTP_EXTENSION_URI.audioLevelIndication,
          )?.id
        : undefined;
    // One object per stream, rewritten per packet: werift's statistics read these fields.
    const stats: StatsPacket = {
      header: { sequenceNumber: 0, timestamp: 0, serializeSize: 0 },
      payload: { length: 0 },
    };
    const deliver: MediaRoute = (packet, headerLength, end) => {
      if (this.closed) return;
      const seq = (packet[2]! << 8) | packet[3]!;
      const timestamp =
        ((packet[4]! << 24) | (packet[5]! << 16) | (packet[6]! << 8) | packet[7]!) >>> 0;
      let level = -1;
      if (levelId !== undefined) {
        const found = findExtension(packet, headerLength, levelId);
        if (found >= 0) level = packet[found >> 4]! & 0x7f;
      }
      stats.header.sequenceNumber = seq;
      stats.header.timestamp = timestamp;
      stats.header.serializeSize = headerLength;
      stats.payload.length = end - headerLength;
      receiver.remoteStreams[ssrc]?.add(stats);
      const payload = packet.subarray(headerLength, end);
      rtp.routed++;
      this.take(key, layer, ssrc, seq, timestamp, (packet[1]! & 0x80) !== 0, payload, level);
    };
    layer.route = { ssrc, deliver };
    return deliver;
  }

  private take(
    key: LayerKey,
    layer: Layer,
    ssrc: number,
    sequenceNumber: number,
    timestamp: number,
    marker: boolean,
    payload: Buffer,
    audioLevel: number,
  ): void {
    rtp.received++;
    const now = performance.now();
    layer.ssrc = ssrc;
    // Padding-only packets (a publisher probing its bandwidth, also on a paused layer) are
    // no frames: they neither keep a layer flowing nor resume it.
    if (this.kind === "video" && payload.length > 0) this.trackFrames(key, layer, timestamp, now);
    layer.bytes += payload.length;
    this.measure(layer, payload.length, now);
    if (layer.packets++ === 0) this.emit("layerActive", key);
    if (this.source === "mic" && audioLevel >= 0) this.emit("audioLevel", audioLevel);
    const video = this.kind === "video";
    // Header extensions are not carried over: their ids are per connection, and each
    // consumer writes its own.
    const media: MediaPacket = {
      payload,
      sequenceNumber,
      timestamp,
      marker,
      keyFrame: video && isVp8KeyFrameStart(payload),
      receivedAt: now,
      pictureIdAt: -1,
      pictureIdLong: false,
      tl0PicIdxAt: -1,
    };
    this.fanOut(key, layer, media);
    if (video) this.trackLoss(key, layer, media, now);
  }

  /**
   * Notes a packet's timestamp: a newer one starts a frame (retransmissions of older packets
   * do not count). A layer that resumes after a stall is reported active again, and every
   * other layer is checked for a stall (it missed frames this one sent).
   */
  private trackFrames(key: LayerKey, layer: Layer, timestamp: number, now: number): void {
    const newer =
      layer.lastTimestamp < 0 || ((timestamp - layer.lastTimestamp) >>> 0) - 1 < 0x7fffffff;
    if (!newer) return;
    layer.lastTimestamp = timestamp;
    layer.lastFrameAt = now;
    layer.frameArrivals.push(now);
    if (layer.frameArrivals.length > STALL_FRAMES) layer.frameArrivals.shift();
    if (layer.stalled) {
      layer.stalled = false;
      this.emit("layerActive", key);
    }
    for (const [otherKey, other] of this.layers) {
      if (other === layer || other.stalled || other.packets === 0 || !this.isStalled(other, now))
        continue;
      other.stalled = true;
      this.emit("layerStalled", otherKey);
    }
  }

  /**
   * Upstream loss recovery (upstream-loss.ts): NACKs what is missing, and asks for a key
   * frame when media was lost for good, so subscribers' decoders do not wait on it.
   */
  private trackLoss(key: LayerKey, layer: Layer, packet: MediaPacket, now: number): void {
    const givenUp = layer.loss.received(packet.sequenceNumber, now);
    if (packet.keyFrame) layer.loss.keyFrame(packet.sequenceNumber);
    if (givenUp.length > 0) this.recoverByKeyFrame(key);
    if (packet.keyFrame) layer.undecided.clear();
    if (layer.loss.pending && !this.lossTimer)
      this.lossTimer = every(UPSTREAM_LOSS.nackIntervalMs, () => this.pollLoss());
  }

  private pollLoss(): void {
    const now = performance.now();
    let pending = false;
    for (const [key, layer] of this.layers) {
      if (!layer.loss.pending && layer.undecided.size === 0) continue;
      const { nack, unrecovered } = layer.loss.poll(now);
      if (nack.length > 0 && layer.ssrc !== undefined) this.sendNack(layer.ssrc, nack);
      for (const seq of unrecovered) layer.undecided.set(seq, now + UNDECIDED_MS);
      let mediaLost = false;
      for (const [seq, until] of layer.undecided) {
        const lost = missingWas(layer.cache, seq);
        if (lost === "unknown" && now < until) continue;
        layer.undecided.delete(seq);
        mediaLost ||= lost === "media";
      }
      if (mediaLost) this.recoverByKeyFrame(key);
      pending ||= layer.loss.pending || layer.undecided.size > 0;
    }
    if (!pending) {
      this.lossTimer?.();
      this.lossTimer = undefined;
    }
  }

  private recoverByKeyFrame(key: LayerKey): void {
    rtp.unrecovered++;
    this.requestKeyFrame(key);
  }

  private sendNack(ssrc: number, lost: number[]): void {
    const receiver = this.transceiver.receiver;
    rtp.nacksSent++;
    const nack = new GenericNack({ senderSsrc: receiver.rtcpSsrc, mediaSourceSsrc: ssrc, lost });
    void receiver.dtlsTransport
      ?.sendRtcp([new RtcpTransportLayerFeedback({ feedback: nack })])
      .catch(() => {});
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

/** How far to look around a missing packet for the media packets on either side. */
const PADDING_SEARCH = 32;

/**
 * What the packet lost at `seq` was. A publisher without RTX probes its bandwidth with
 * padding-only packets in the media stream (also on a layer it paused) and never resends
 * them; asking for a key frame for each would cost far more than the probe. Only padding
 * can be missing between the media packets on either side when they end one frame and
 * start the next (consecutive VP8 picture ids). "unknown" while no media came after it.
 */
export function missingWas(cache: PacketCache, seq: number): "padding" | "media" | "unknown" {
  const media = (step: 1 | -1): MediaPacket | undefined => {
    for (let k = 1; k <= PADDING_SEARCH; k++) {
      const packet = cache.get((seq + step * k) & 0xffff);
      if (packet && packet.payload.length > 0) return packet;
    }
    return undefined;
  };
  const after = media(1);
  if (!after) return "unknown";
  if (after.keyFrame) return "padding"; // whatever it was, a key frame follows
  const before = media(-1);
  if (!before?.marker || after.pictureIdAt < 0 || before.pictureIdAt < 0) return "media";
  const b0 = after.payload[0]!;
  if ((b0 & 0x10) === 0 || (b0 & 0x07) !== 0) return "media"; // not the start of a frame
  const mask = after.pictureIdLong ? 0x7fff : 0x7f;
  const next = (readPictureId(after.payload, after) - readPictureId(before.payload, before)) & mask;
  return next === 1 ? "padding" : "media";
}
