/**
 * The subscribe side of a participant: a werift peer connection the SFU offers, one
 * sending transceiver per consumed track. Renegotiation is serialized: at most one offer
 * is outstanding; changes made meanwhile are batched into the next offer once the answer
 * arrives. Only the SFU offers on this connection, so there is no glare to resolve; an
 * answer for any other revision is refused as stale.
 */
import { MediaStream, RTCPeerConnection } from "werift";
import { AwaitQueue } from "./await-queue";
import { Consumer } from "./consumer";
import { ClosedError, NegotiationError } from "./errors";
import { addCandidate, announceAddress, type MediaNetwork, peerConfig } from "./media";
import type { Producer } from "./producer";
import type { ErrorBody, EventPayload, IceCandidate } from "./protocol";
import { live } from "./stats";
import { TypedEmitter } from "./typed-emitter";
import { hardenDtls } from "./werift-patches";

type SubscribeEvents = {
  offer: [EventPayload<"subscribeOffer">];
  /** The connection cannot go on (answer timeout, ICE/DTLS failure). */
  failed: [ErrorBody];
  consumerAdded: [Consumer];
};

export class SubscribeConnection extends TypedEmitter<SubscribeEvents> {
  readonly pc: RTCPeerConnection;
  readonly consumers = new Map<string, Consumer>();
  private readonly queue = new AwaitQueue();
  private revision = 0;
  private outstanding: { revision: number; timer: NodeJS.Timeout } | undefined;
  /** Something changed while an offer was outstanding. */
  private dirty = false;
  /** Whether any offer was ever made (removing the last track still needs one). */
  private negotiated = false;
  private closed_ = false;

  constructor(
    private readonly network: MediaNetwork,
    private readonly answerTimeoutMs: number,
  ) {
    super();
    this.pc = new RTCPeerConnection(peerConfig(network));
    live.transports++;
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === "connected") for (const consumer of this.consumers.values()) consumer.restart();
      if (state === "failed") this.emit("failed", { code: "internal", message: "subscribe connection failed" });
    });
  }

  get closed(): boolean {
    return this.closed_;
  }

  /** Starts sending a producer to this participant. */
  addConsumer(producer: Producer, peerId: string): Consumer | undefined {
    if (this.closed_ || producer.closed || this.consumers.has(producer.id)) return undefined;
    const transceiver = this.pc.addTransceiver(producer.kind, {
      direction: "sendonly",
      // The stream id tells the client whose track it is even before it reads `tracks`.
      streams: [new MediaStream({ id: peerId })],
    });
    const consumer = new Consumer(producer, transceiver);
    this.consumers.set(producer.id, consumer);
    consumer.on("closed", () => {
      this.consumers.delete(producer.id);
      if (this.closed_) return;
      transceiver.stop();
      this.renegotiate();
    });
    this.emit("consumerAdded", consumer);
    this.renegotiate();
    return consumer;
  }

  /** Schedules an offer reflecting the current consumers. */
  renegotiate(): void {
    if (this.closed_) return;
    if (this.outstanding) {
      this.dirty = true;
      return;
    }
    void this.queue.push(() => this.offer()).catch(() => {});
  }

  /** Applies the client's answer to the outstanding offer `revision`. */
  async applyAnswer(revision: number, sdp: string): Promise<void> {
    await this.queue.push(async () => {
      if (this.closed_) throw new ClosedError("the subscribe connection");
      if (!this.outstanding || this.outstanding.revision !== revision) {
        throw new NegotiationError("stale_answer", `no outstanding subscribe offer has revision ${revision}`);
      }
      try {
        await this.pc.setRemoteDescription({ type: "answer", sdp });
      } catch (err) {
        // The offer stays outstanding: the client may answer it again correctly.
        throw new NegotiationError("bad_sdp", `subscribe answer refused: ${String((err as Error).message ?? err)}`);
      }
      clearTimeout(this.outstanding.timer);
      this.outstanding = undefined;
      for (const consumer of this.consumers.values()) consumer.requestKeyFrame();
    });
    if (this.dirty) {
      this.dirty = false;
      this.renegotiate();
    }
  }

  async addIceCandidate(candidate: IceCandidate | null): Promise<void> {
    await addCandidate(this.pc, candidate);
  }

  /** Idempotent. Stops every consumer and the connection. */
  async close(): Promise<void> {
    if (this.closed_) return;
    this.closed_ = true;
    live.transports--;
    if (this.outstanding) clearTimeout(this.outstanding.timer);
    this.outstanding = undefined;
    for (const consumer of [...this.consumers.values()]) consumer.close();
    this.consumers.clear();
    this.removeAllListeners();
    await this.pc.close().catch(() => {});
  }

  private async offer(): Promise<void> {
    if (this.closed_ || this.outstanding) return;
    if (this.consumers.size === 0 && !this.negotiated) return;
    this.dirty = false;
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);
    hardenDtls(this.pc);
    if (this.closed_) return;
    this.negotiated = true;
    const revision = ++this.revision;
    const timer = setTimeout(() => {
      if (this.outstanding?.revision !== revision) return;
      this.emit("failed", { code: "internal", message: `no answer to subscribe offer ${revision}` });
    }, this.answerTimeoutMs);
    timer.unref();
    this.outstanding = { revision, timer };
    const sdp = announceAddress(this.pc.localDescription?.sdp ?? offer.sdp, this.network.mediaIp, this.network.announcedIp);
    const tracks = [...this.consumers.values()]
      .filter((consumer) => consumer.mid !== null)
      .map((consumer) => ({ mid: consumer.mid as string, trackId: consumer.trackId }));
    this.emit("offer", { revision, sdp, tracks });
  }
}
