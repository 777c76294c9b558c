/**
 * A Consumer is one subscriber's copy of one Producer: a sending transceiver on the
 * subscriber's connection, fed one layer of the producer. Layer switches happen on a key
 * frame of the new layer; werift's sender keeps SSRC, sequence numbers and timestamps
 * continuous across the switch (`replaceRTP`).
 */
import {
  RtcpPayloadSpecificFeedback,
  type RTCRtpSender,
  type RTCRtpTransceiver,
  type RtpPacket,
} from "werift";
import { chooseLayer } from "./layer-selection";
import type { LayerKey, Producer, RtpSink } from "./producer";
import type { SimulcastLayer } from "./protocol";
import { live, rtp } from "./stats";
import { TypedEmitter } from "./typed-emitter";

/** RTCP payload-specific feedback format of a Full Intra Request (RFC 5104). */
const FIR_FORMAT = 4;

type ConsumerEvents = {
  closed: [];
  layerChanged: [LayerKey];
};

export class Consumer extends TypedEmitter<ConsumerEvents> implements RtpSink {
  private current: LayerKey | undefined;
  private pending: LayerKey | undefined;
  /** Video starts (and restarts after a stall) on a key frame, or decoders show garbage. */
  private awaitingKeyFrame: boolean;
  private preferred: SimulcastLayer | null = null;
  private tile: { width: number; height: number } | null = null;
  private closed_ = false;
  private readonly unsubscribers: Array<() => void> = [];
  private readonly sender: RTCRtpSender;
  packetsForwarded = 0;

  constructor(
    readonly producer: Producer,
    readonly transceiver: RTCRtpTransceiver,
  ) {
    super();
    live.consumers++;
    this.sender = transceiver.sender;
    this.awaitingKeyFrame = producer.kind === "video";
    const onLayer = () => this.reselect();
    const onClosed = () => this.close();
    producer.on("layerActive", onLayer).on("closed", onClosed);
    this.unsubscribers.push(() => producer.off("layerActive", onLayer).off("closed", onClosed));
    // Key-frame requests from the subscriber go to the publisher (rate-limited there).
    const pli = this.sender.onPictureLossIndication.subscribe(() => this.requestKeyFrame());
    const fir = this.sender.onRtcp.subscribe((packet) => {
      if (
        packet.type === RtcpPayloadSpecificFeedback.type &&
        packet instanceof RtcpPayloadSpecificFeedback &&
        packet.feedback.count === FIR_FORMAT
      ) {
        this.requestKeyFrame();
      }
    });
    this.unsubscribers.push(pli.unSubscribe, fir.unSubscribe);
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

  get closed(): boolean {
    return this.closed_;
  }

  setPreferredLayer(layer: SimulcastLayer | null): void {
    this.preferred = layer;
    this.reselect();
  }

  setTileSize(width: number, height: number): void {
    this.tile = { width, height };
    this.reselect();
  }

  /** Called when the subscriber's connection is (re)connected: start from a fresh key frame. */
  restart(): void {
    if (this.producer.kind === "video") this.awaitingKeyFrame = true;
    this.requestKeyFrame();
  }

  requestKeyFrame(): void {
    const layer = this.pending !== undefined ? this.pending : this.current;
    if (layer !== undefined) this.producer.requestKeyFrame(layer);
  }

  forward(packet: RtpPacket, layer: LayerKey, keyFrame: boolean): void {
    if (this.closed_) return;
    if (layer === this.pending && this.pending !== undefined) {
      if (!keyFrame) return;
      this.switchTo(layer, packet);
    }
    if (layer !== this.current) return;
    if (this.awaitingKeyFrame) {
      // Only a key frame the subscriber actually receives ends the wait.
      if (!keyFrame || !this.canSend()) return;
      this.awaitingKeyFrame = false;
    }
    this.packetsForwarded++;
    rtp.forwarded++;
    this.sender.sendRtp(packet).catch(() => {});
  }

  /** Idempotent; the subscribe connection drops the transceiver on `closed`. */
  close(): void {
    if (this.closed_) return;
    this.closed_ = true;
    live.consumers--;
    this.producer.detach(this);
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    this.emit("closed");
    this.removeAllListeners();
  }

  private canSend(): boolean {
    return !this.sender.stopped && this.sender.dtlsTransport?.state === "connected" && !!this.sender.codec;
  }

  private reselect(): void {
    if (this.closed_) return;
    const target = chooseLayer({
      active: this.producer.activeLayers(),
      preferred: this.preferred,
      tile: this.tile,
    });
    if (target === undefined || target === this.current) {
      if (this.pending !== undefined && target === this.current) {
        this.producer.detach(this, this.pending);
        this.pending = undefined;
      }
      return;
    }
    if (this.current === undefined || this.producer.kind === "audio") {
      // Nothing forwarded yet: take the target at once (video waits for its key frame).
      if (this.current !== undefined) this.producer.detach(this, this.current);
      this.current = target;
      this.producer.attach(this, target);
      this.emit("layerChanged", target);
      this.requestKeyFrame();
      return;
    }
    if (this.pending !== undefined) this.producer.detach(this, this.pending);
    this.pending = target;
    this.producer.attach(this, target);
    this.producer.requestKeyFrame(target);
  }

  private switchTo(layer: LayerKey, firstPacket: RtpPacket): void {
    if (this.current !== undefined) this.producer.detach(this, this.current);
    this.current = layer;
    this.pending = undefined;
    // The new layer has its own sequence numbers and timestamps; the sender rebases them.
    this.sender.replaceRTP(firstPacket.header);
    this.emit("layerChanged", layer);
  }
}
