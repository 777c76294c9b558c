/**
 * A Consumer is one subscriber's copy of one Producer: a sending transceiver on the
 * subscriber's connection, fed one layer of the producer (docs/sfu.md, "Layer selection"
 * and "The fast forwarding path").
 *
 * It writes its own RTP: the subscriber sees one SSRC, one payload type, continuous
 * sequence numbers, timestamps and VP8 picture ids across layer switches and pauses. A
 * switch waits for a key frame of the new layer and then rebases every field (the
 * timestamp by the wall-clock time since the last forwarded packet). Packets go out
 * through the connection's {@link FastTransport} (our SRTP, straight to the socket); werift's
 * sender is only the fallback. The subscriber's RTCP about this stream (key-frame requests,
 * NACKs) reaches it through its connection, whichever parser read it.
 */
import {
  RtcpSenderInfo,
  RtcpSrPacket,
  RtpHeader,
  RtpPacket,
  type RTCRtpSender,
  type RTCRtpTransceiver,
} from "werift";
import { chooseLayer } from "./layer-selection";
import type { MediaPacket } from "./media-packet";
import type { LayerKey, ProducerLike, RtpSink } from "./producer";
import type { SimulcastLayer } from "./protocol";
import { type HeaderTemplate, headerTemplate, writeHeader } from "./rtp-header";
import { scratch } from "./srtp/aes-gcm";
import type { FastTransport } from "./srtp/fast-transport";
import { live, recordForwardDelay, rtp } from "./stats";
import { every } from "./ticker";
import { TypedEmitter } from "./typed-emitter";
import { readPictureId, writePictureId } from "./vp8";

type ConsumerEvents = {
  closed: [];
  layerChanged: [LayerKey];
};

/** How often a consumer still waiting for a key frame asks for one again. */
const KEY_FRAME_RETRY_MS = 500;

export class Consumer extends TypedEmitter<ConsumerEvents> implements RtpSink {
  private current: LayerKey | undefined;
  private pending: LayerKey | undefined;
  private paused = false;
  /** Video starts (and resumes) on a key frame, or decoders show garbage. */
  private awaitingKeyFrame: boolean;
  private preferred: SimulcastLayer | null = null;
  private tile: { width: number; height: number } | null = null;
  /** Highest layer the subscriber's bandwidth allows (set by its connection). */
  private cap: SimulcastLayer | undefined;
  private closed_ = false;
  /** Cancels the key-frame retry on the shared tick, while one runs. */
  private keyFrameRetry: (() => void) | undefined;
  private readonly unsubscribers: Array<() => void> = [];
  private readonly sender: RTCRtpSender;
  private readonly clockRate: number;
  private fast: FastTransport | undefined;
  private template: HeaderTemplate | undefined;

  // Rewriting: out = in + offset, fixed from the first packet after a switch ("epoch").
  private rebase = true;
  private epochFirstSeq = 0;
  private seqOffset = 0;
  private timestampOffset = 0;
  private pictureIdOffset = 0;
  private tl0Offset = 0;
  private lastSeq = -1;
  private lastTimestamp = 0;
  private lastPictureId = -1;
  private lastTl0 = -1;
  private lastSentAt = 0;
  /** SRTP rollover counter of our outgoing sequence numbers. */
  private roc = 0;
  /** The retransmission stream's own sequence numbers and rollover counter (RFC 4588). */
  private rtxSeq = Math.floor(Math.random() * 0x8000);
  private rtxRoc = 0;
  private rtxSent = 0;

  packetsForwarded = 0;
  octetsForwarded = 0;
  retransmissions = 0;

  constructor(
    readonly producer: ProducerLike,
    readonly transceiver: RTCRtpTransceiver,
  ) {
    super();
    live.consumers++;
    this.sender = transceiver.sender;
    this.clockRate = producer.kind === "audio" ? 48_000 : 90_000;
    this.awaitingKeyFrame = producer.kind === "video";
    const onLayer = () => this.reselect();
    const onClosed = () => this.close();
    producer.on("layerActive", onLayer).on("layerStalled", onLayer).on("closed", onClosed);
    this.unsubscribers.push(() =>
      producer.off("layerActive", onLayer).off("layerStalled", onLayer).off("closed", onClosed),
    );
  }

  /**
   * Picks the first layer. Called once whoever listens for `layerChanged` is listening: a
   * producer already sending has its layers, so the first choice is made (and announced) here.
   */
  start(): void {
    this.reselect();
  }

  get trackId(): string {
    return this.producer.id;
  }

  get mid(): string | null {
    return this.transceiver.mid;
  }

  get layer(): LayerKey | undefined {
    return this.current;
  }

  /**
   * The layer this consumer is committed to: the one it is switching to (waiting for its
   * key frame), else the one it forwards.
   */
  get targetLayer(): LayerKey | undefined {
    return this.pending ?? this.current;
  }

  /** The cap the subscriber's bandwidth puts on this track, if any. */
  get capLayer(): SimulcastLayer | undefined {
    return this.cap;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  get closed(): boolean {
    return this.closed_;
  }

  get ssrc(): number {
    return this.sender.ssrc;
  }

  /** What this track's tile asks for, before bandwidth: for the connection's allocation. */
  wantedLayer(): SimulcastLayer | undefined {
    if (this.paused || this.producer.simulcastLayers.length === 0) return undefined;
    const choice = chooseLayer({
      active: this.producer.layerKeys(),
      preferred: this.preferred,
      tile: this.tile,
      current: this.targetLayer,
    });
    return choice === "paused" || choice === null || choice === undefined ? undefined : choice;
  }

  /** Tile area in pixels, the allocation's priority (unknown tiles count as small). */
  get tileArea(): number {
    return this.tile ? this.tile.width * this.tile.height : 0;
  }

  setPreferredLayer(layer: SimulcastLayer | null): void {
    this.preferred = layer;
    this.reselect();
  }

  setTileSize(width: number, height: number): void {
    this.tile = { width, height };
    this.reselect();
  }

  setCap(cap: SimulcastLayer | undefined): void {
    if (cap === this.cap) return;
    this.cap = cap;
    this.reselect();
  }

  /** The connection's SRTP fast path (undefined: werift's sender, e.g. ICE-TCP or not GCM). */
  setTransport(fast: FastTransport | undefined): void {
    this.fast = fast;
  }

  /** The subscribe connection was (re)negotiated: payload type or extension ids may differ. */
  negotiated(): void {
    this.template = undefined;
  }

  /** Called when the subscriber's connection is (re)connected: start from a fresh key frame. */
  restart(): void {
    if (this.producer.kind === "video") this.awaitingKeyFrame = true;
    this.requestKeyFrame();
  }

  requestKeyFrame(): void {
    const layer = this.pending !== undefined ? this.pending : this.current;
    if (layer !== undefined && !this.paused) this.producer.requestKeyFrame(layer);
    this.keepAskingForKeyFrame();
  }

  /**
   * A key-frame request is one RTCP packet: it can be lost, or reach a publisher whose
   * connection is not up yet, or its answer can arrive before this subscriber can take it.
   * Until the key frame this consumer waits for has been forwarded, ask again every
   * second (the producer's own rate limit still applies), so a tile never stays black.
   */
  private keepAskingForKeyFrame(): void {
    if (this.keyFrameRetry || this.closed_ || this.producer.kind !== "video") return;
    this.keyFrameRetry = every(KEY_FRAME_RETRY_MS, () => {
      // Done, or paused (resuming asks again, and re-arms this).
      if (this.closed_ || this.paused || (!this.awaitingKeyFrame && this.pending === undefined)) {
        this.keyFrameRetry?.();
        this.keyFrameRetry = undefined;
        return;
      }
      const layer = this.pending !== undefined ? this.pending : this.current;
      if (layer !== undefined) this.producer.requestKeyFrame(layer);
    });
  }

  /** Re-evaluates the layer (the producer's flowing layers change over time). */
  reselect(): void {
    if (this.closed_) return;
    const choice = chooseLayer({
      active: this.producer.activeLayers(),
      preferred: this.preferred,
      tile: this.tile,
      current: this.pending ?? this.current,
      cap: this.cap,
    });
    if (choice === undefined) return;
    if (choice === "paused") {
      if (this.paused) return;
      // A hidden tile costs nothing: stop taking packets until it is shown again.
      this.paused = true;
      this.producer.detach(this);
      this.pending = undefined;
      return;
    }
    if (this.paused) {
      this.paused = false;
      this.producer.attach(this, choice);
      this.awaitingKeyFrame = this.producer.kind === "video";
      if (choice !== this.current) {
        this.current = choice;
        this.emit("layerChanged", choice);
      }
      this.requestKeyFrame();
      return;
    }
    if (choice === this.current) {
      if (this.pending !== undefined) this.producer.detach(this, this.pending);
      this.pending = undefined;
      return;
    }
    if (this.current === undefined || this.producer.kind === "audio") {
      // Nothing forwarded yet: take the target at once (video waits for its key frame).
      if (this.current !== undefined) this.producer.detach(this, this.current);
      this.current = choice;
      this.producer.attach(this, choice);
      this.emit("layerChanged", choice);
      this.requestKeyFrame();
      return;
    }
    if (choice === this.pending) return;
    if (this.pending !== undefined) this.producer.detach(this, this.pending);
    this.pending = choice;
    this.producer.attach(this, choice);
    // Asked again until it comes: the current layer may have stopped (nothing to show meanwhile).
    this.requestKeyFrame();
  }

  forward(packet: MediaPacket, layer: LayerKey): void {
    if (this.closed_) return;
    if (layer === this.pending && this.pending !== undefined) {
      if (!packet.keyFrame) return;
      this.switchTo(layer);
    }
    if (layer !== this.current) return;
    if (this.awaitingKeyFrame) {
      // Only a key frame the subscriber actually receives ends the wait.
      if (!packet.keyFrame || !this.canSend()) return;
      this.awaitingKeyFrame = false;
      this.rebase = true;
    }
    if (this.rebase) {
      this.rebaseOn(packet);
    } else if (((packet.sequenceNumber - this.epochFirstSeq) & 0xffff) >= 0x8000) {
      return; // older than this epoch: its outgoing number would collide with the last one's
    }
    this.send(packet, false);
  }

  /**
   * An RTCP sender report for this stream, or undefined when nothing was sent in the last
   * `activeWithinMs` (RFC 3550 §6.3.8: a participant that stopped sending for two report
   * intervals is no longer a sender): idle streams cost no RTCP.
   */
  senderReport(
    ntpTimestamp: bigint,
    now: number,
    activeWithinMs = Infinity,
  ): RtcpSrPacket | undefined {
    if (this.lastSeq < 0 || now - this.lastSentAt > activeWithinMs) return undefined;
    const elapsed = Math.round(((now - this.lastSentAt) * this.clockRate) / 1000);
    return new RtcpSrPacket({
      ssrc: this.sender.ssrc,
      senderInfo: new RtcpSenderInfo({
        ntpTimestamp,
        rtpTimestamp: (this.lastTimestamp + elapsed) >>> 0,
        packetCount: this.packetsForwarded >>> 0,
        octetCount: this.octetsForwarded >>> 0,
      }),
    });
  }

  /** Idempotent; the subscribe connection drops the transceiver on `closed`. */
  close(): void {
    if (this.closed_) return;
    this.closed_ = true;
    live.consumers--;
    this.keyFrameRetry?.();
    this.keyFrameRetry = undefined;
    this.producer.detach(this);
    this.fast?.forget(this.sender.ssrc);
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    this.emit("closed");
    this.removeAllListeners();
  }

  private canSend(): boolean {
    return (
      !this.sender.stopped &&
      this.sender.dtlsTransport?.state === "connected" &&
      !!this.sender.codec
    );
  }

  private switchTo(layer: LayerKey): void {
    if (this.current !== undefined) this.producer.detach(this, this.current);
    this.current = layer;
    this.pending = undefined;
    this.rebase = true;
    this.emit("layerChanged", layer);
  }

  /** Fixes the offsets so this packet follows the last one sent, whatever layer it came from. */
  private rebaseOn(packet: MediaPacket): void {
    this.rebase = false;
    this.epochFirstSeq = packet.sequenceNumber;
    const pictureId = packet.pictureIdAt >= 0 ? readPictureId(packet.payload, packet) : -1;
    const tl0 = packet.tl0PicIdxAt >= 0 ? packet.payload[packet.tl0PicIdxAt]! : -1;
    if (this.lastSeq < 0) {
      this.seqOffset = this.timestampOffset = this.pictureIdOffset = this.tl0Offset = 0;
      return;
    }
    this.seqOffset = (this.lastSeq + 1 - packet.sequenceNumber) & 0xffff;
    // The new layer's clock is unrelated: continue ours by the time that passed.
    const elapsed = Math.max(
      1,
      Math.round(((performance.now() - this.lastSentAt) * this.clockRate) / 1000),
    );
    this.timestampOffset = (this.lastTimestamp + elapsed - packet.timestamp) >>> 0;
    if (pictureId >= 0 && this.lastPictureId >= 0)
      this.pictureIdOffset = (this.lastPictureId + 1 - pictureId) & 0x7fff;
    if (tl0 >= 0 && this.lastTl0 >= 0) this.tl0Offset = (this.lastTl0 + 1 - tl0) & 0xff;
  }

  private send(packet: MediaPacket, retransmission: boolean): void {
    const seq = (packet.sequenceNumber + this.seqOffset) & 0xffff;
    const timestamp = (packet.timestamp + this.timestampOffset) >>> 0;
    // Older than the last one sent: a retransmission, or a loss the publisher resent late
    // (it fills the subscriber's gap). It goes out, but the stream's position stays where it
    // was, or the next layer switch would reuse sequence numbers, picture ids and timestamps
    // the subscriber already has (it drops those, and its decoder waits 3 s for a key
    // frame), and one from before the sequence-number wrap would move the rollover counter.
    const older = this.lastSeq >= 0 && ((seq - this.lastSeq) & 0xffff) >= 0x8000;
    const roc = this.rocFor(seq, older);
    const template = (this.template ??= headerTemplate(this.transceiver, this.producer.kind));
    if (!template) return;
    const payload = packet.payload;
    const now = performance.now();
    let sent = false;
    if (retransmission && template.rtx && this.fast) {
      this.sendRtx(packet, template, template.rtx, timestamp, seq, now);
      this.retransmissions++;
      rtp.retransmitted++;
      return;
    }
    if (this.fast) {
      const out = scratch();
      const headerLength = writeHeader(
        out,
        template.bytes,
        template.payloadType,
        packet.marker,
        seq,
        timestamp,
        template.absSendTimeAt,
        now,
      );
      out.set(payload, headerLength);
      this.rewriteVp8(out, headerLength, packet);
      sent = this.fast.sendScratch(headerLength, payload.length, this.sender.ssrc, roc, seq);
    }
    if (!sent) this.sendThroughWerift(packet, template.payloadType, seq, timestamp);
    if (retransmission) {
      this.retransmissions++;
      rtp.retransmitted++;
      return;
    }
    recordForwardDelay(performance.now() - packet.receivedAt);
    if (!older) {
      this.lastSeq = seq;
      this.lastTimestamp = timestamp;
      this.lastSentAt = now;
      if (packet.pictureIdAt >= 0)
        this.lastPictureId = (readPictureId(payload, packet) + this.pictureIdOffset) & 0x7fff;
      if (packet.tl0PicIdxAt >= 0)
        this.lastTl0 = (payload[packet.tl0PicIdxAt]! + this.tl0Offset) & 0xff;
    }
    this.packetsForwarded++;
    this.octetsForwarded += payload.length;
    rtp.forwarded++;
  }

  /**
   * A retransmission in the RTX stream: RTX SSRC, payload type and sequence number, the
   * original sequence number (OSN) ahead of the payload. Over our own SRTP only; the slow
   * path retransmits in the original stream, which browsers accept too.
   */
  private sendRtx(
    packet: MediaPacket,
    template: HeaderTemplate,
    rtx: NonNullable<HeaderTemplate["rtx"]>,
    timestamp: number,
    originalSeq: number,
    now: number,
  ): void {
    const seq = this.rtxSeq;
    this.rtxSeq = (seq + 1) & 0xffff;
    const out = scratch();
    const headerLength = writeHeader(
      out,
      rtx.bytes,
      rtx.payloadType,
      packet.marker,
      seq,
      timestamp,
      template.absSendTimeAt,
      now,
    );
    out[headerLength] = originalSeq >>> 8;
    out[headerLength + 1] = originalSeq & 0xff;
    out.set(packet.payload, headerLength + 2);
    this.rewriteVp8(out, headerLength + 2, packet);
    if (seq === 0 && this.rtxSent > 0) this.rtxRoc = (this.rtxRoc + 1) >>> 0;
    this.rtxSent++;
    this.fast!.sendScratch(headerLength, packet.payload.length + 2, rtx.ssrc, this.rtxRoc, seq);
  }

  /** Writes the rebased picture id and TL0PICIDX into the outgoing copy of the payload. */
  private rewriteVp8(out: Uint8Array, payloadAt: number, packet: MediaPacket): void {
    if (packet.pictureIdAt >= 0 && this.pictureIdOffset !== 0) {
      const view = out.subarray(payloadAt);
      writePictureId(
        view,
        packet,
        (readPictureId(packet.payload, packet) + this.pictureIdOffset) & 0x7fff,
      );
    }
    if (packet.tl0PicIdxAt >= 0 && this.tl0Offset !== 0) {
      out[payloadAt + packet.tl0PicIdxAt] =
        (packet.payload[packet.tl0PicIdxAt]! + this.tl0Offset) & 0xff;
    }
  }

  /** The slow path: werift serialises and encrypts (ICE-TCP, or a client without GCM). */
  private sendThroughWerift(
    packet: MediaPacket,
    payloadType: number,
    seq: number,
    timestamp: number,
  ): void {
    if (!this.canSend()) return;
    rtp.throughWerift++;
    const payload = Buffer.from(packet.payload);
    this.rewriteVp8(payload, 0, packet);
    const header = new RtpHeader({
      marker: packet.marker,
      payloadType,
      sequenceNumber: seq,
      timestamp,
      ssrc: this.sender.ssrc,
      padding: false,
    });
    this.sender.sendRtp(new RtpPacket(header, payload)).catch(() => {});
  }

  /** The rollover counter for an outgoing sequence number (an older one may predate a wrap). */
  private rocFor(seq: number, older: boolean): number {
    if (this.lastSeq < 0) return this.roc;
    if (older)
      return seq > this.lastSeq && seq - this.lastSeq > 0x8000
        ? Math.max(0, this.roc - 1)
        : this.roc;
    if (seq < this.lastSeq && this.lastSeq - seq > 0x8000) this.roc = (this.roc + 1) >>> 0;
    return this.roc;
  }

  /**
   * Answers a subscriber's NACK (`lost`: our sequence numbers) from the producer's cache,
   * in the RTX stream where negotiated, else in the original stream.
   */
  retransmit(lost: readonly number[]): void {
    if (this.closed_ || this.paused || this.rebase || this.current === undefined) return;
    for (const seq of lost) {
      const upstream = (seq - this.seqOffset) & 0xffff;
      if (((upstream - this.epochFirstSeq) & 0xffff) >= 0x8000) continue; // before this epoch
      const packet = this.producer.cached(this.current, upstream);
      if (packet) this.send(packet, true);
    }
  }
}
