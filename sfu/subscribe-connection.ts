/**
 * The subscribe side of a participant: a werift peer connection the SFU offers, one
 * sending transceiver per consumed track. Renegotiation is serialized: at most one offer
 * is outstanding; changes made meanwhile are batched into the next offer once the answer
 * arrives. Only the SFU offers on this connection, so there is no glare to resolve; an
 * answer for any other revision is refused as stale.
 */
import {
  GenericNack,
  MediaStream,
  ntpTime,
  PictureLossIndication,
  ReceiverEstimatedMaxBitrate,
  type RTCDtlsTransport,
  RTCPeerConnection,
  type RtcpPacket,
  RtcpPayloadSpecificFeedback,
  RtcpRrPacket,
  RtcpSrPacket,
  RtcpTransportLayerFeedback,
} from "werift";
import { AwaitQueue } from "./await-queue";
import {
  allocate,
  DownlinkEstimate,
  NOMINAL_BITRATE,
  type VideoDemand,
} from "./bandwidth-allocation";
import { Consumer } from "./consumer";
import { rank } from "./layer-selection";
import { FIR_FORMAT, readRtcp, type RtcpFeedback } from "./rtcp-feedback";
import { FastTransport, whenSrtpReady } from "./srtp/fast-transport";
import { type HealthWatch, watchHealth } from "./connection-health";
import { ClosedError, NegotiationError } from "./errors";
import { acceptCandidate, announceAddress, type MediaNetwork, peerConfig } from "./media";
import type { ProducerLike } from "./producer";
import type { ErrorBody, EventPayload, IceCandidate, SimulcastLayer } from "./protocol";
import { endMLine, normalizeRemote, offerForPeers } from "./sdp";
import { live, rtp } from "./stats";
import { every } from "./ticker";
import { TypedEmitter } from "./typed-emitter";
import {
  authenticateChecks,
  followNominations,
  hardenDtls,
  resumeRestartedIce,
} from "./werift-patches";

/** RTCP sender reports per stream (RFC 3550 §6.2 allows more; browsers send about one a second). */
export const SENDER_REPORT_INTERVAL_MS = 1_000;
/** How often the downlink is shared among the video consumers (and on each REMB). */
const ALLOCATION_INTERVAL_MS = 500;

type SubscribeEvents = {
  offer: [EventPayload<"subscribeOffer">];
  /** The connection cannot go on (answer timeout, ICE/DTLS failure). */
  failed: [ErrorBody];
  consumerAdded: [Consumer];
};

export class SubscribeConnection extends TypedEmitter<SubscribeEvents> {
  readonly pc: RTCPeerConnection;
  readonly consumers = new Map<string, Consumer>();
  /** The layer each video consumer wanted at the last allocation (a rise may probe at once). */
  private readonly wantedBefore = new WeakMap<Consumer, SimulcastLayer>();
  private readonly queue = new AwaitQueue();
  private revision = 0;
  private outstanding:
    { revision: number; timer: NodeJS.Timeout; offer: EventPayload<"subscribeOffer"> } | undefined;
  /** Something changed while an offer was outstanding. */
  private dirty = false;
  /** Renegotiations asked for, and how many of them the last offer made covers. */
  private changes = 0;
  private offeredChanges = 0;
  /** Whether any offer was ever made (removing the last track still needs one). */
  private negotiated = false;
  /** The next offer restarts ICE (the client asked, after a network change or outage). */
  private iceRestart = false;
  private closed_ = false;
  private fast: FastTransport | undefined;
  private srtpDtls: RTCDtlsTransport | undefined;
  readonly downlink = new DownlinkEstimate();
  private readonly cancelTicks: Array<() => void> = [];
  private readonly health: HealthWatch;
  /** What the subscriber's RTCP does, whichever parser read it (ours or werift's). */
  private readonly feedback: RtcpFeedback = {
    loss: (fractionLost) => this.downlink.onLoss(fractionLost / 256, performance.now()),
    remb: (bitrate) => {
      this.downlink.onRemb(bitrate, performance.now());
      this.allocate();
    },
    keyFrameRequest: (ssrc) => this.consumerSending(ssrc)?.requestKeyFrame(),
    nack: (ssrc, lost) => this.consumerSending(ssrc)?.retransmit(lost),
  };

  constructor(
    private readonly network: MediaNetwork,
    private readonly answerTimeoutMs: number,
    connectTimeoutMs: number,
  ) {
    super();
    this.pc = new RTCPeerConnection(peerConfig(network, "subscribe", "lite"));
    live.transports++;
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === "connected") {
        this.takeOverSrtp();
        for (const consumer of this.consumers.values()) consumer.restart();
        if (this.dirty && !this.outstanding) {
          this.dirty = false;
          this.renegotiate();
        }
      }
    });
    this.health = watchHealth(this.pc, connectTimeoutMs, (reason) =>
      this.emit("failed", { code: "internal", message: `subscribe connection failed: ${reason}` }),
    );
    // Sender reports let receivers sync audio with video and measure the round trip. Both
    // run on the process's shared ticks (ticker.ts), not a timer per subscriber.
    this.cancelTicks.push(every(SENDER_REPORT_INTERVAL_MS, () => this.sendReports()));
    this.cancelTicks.push(every(ALLOCATION_INTERVAL_MS, () => this.allocate()));
  }

  get closed(): boolean {
    return this.closed_;
  }

  /** Starts sending a producer to this participant. */
  addConsumer(producer: ProducerLike, peerId: string): Consumer | undefined {
    if (this.closed_ || producer.closed || this.consumers.has(producer.id)) return undefined;
    const transceiver = this.pc.addTransceiver(producer.kind, {
      direction: "sendonly",
      // The stream id tells the client whose track it is even before it reads `tracks`.
      streams: [new MediaStream({ id: peerId })],
    });
    const consumer = new Consumer(producer, transceiver);
    consumer.setTransport(this.fast);
    this.consumers.set(producer.id, consumer);
    consumer.on("closed", () => {
      this.consumers.delete(producer.id);
      if (this.closed_) return;
      endMLine(this.pc, transceiver);
      this.renegotiate();
    });
    this.emit("consumerAdded", consumer);
    consumer.start();
    this.renegotiate();
    return consumer;
  }

  /** Schedules an offer reflecting the current consumers. */
  renegotiate(): void {
    if (this.closed_) return;
    this.changes++;
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
        throw new NegotiationError(
          "stale_answer",
          `no outstanding subscribe offer has revision ${revision}`,
        );
      }
      try {
        await this.pc.setRemoteDescription({ type: "answer", sdp: normalizeRemote(sdp) });
      } catch (err) {
        // The offer stays outstanding: the client may answer it again correctly.
        throw new NegotiationError(
          "bad_sdp",
          `subscribe answer refused: ${String((err as Error).message ?? err)}`,
        );
      }
      resumeRestartedIce(this.pc);
      this.health.negotiated();
      clearTimeout(this.outstanding.timer);
      this.outstanding = undefined;
      for (const consumer of this.consumers.values()) {
        consumer.negotiated();
        consumer.requestKeyFrame();
      }
    });
    // werift fails a DTLS handshake that a re-offer interrupts: a change that came while
    // the first offer was made waits until the connection is up (see the constructor).
    if (this.dirty && this.pc.connectionState === "connected") {
      this.dirty = false;
      this.renegotiate();
    }
  }

  addIceCandidate(candidate: IceCandidate | null): void {
    acceptCandidate(this.pc, candidate);
  }

  /** Makes the next offer restart ICE (fresh credentials); sends it now unless one is outstanding. */
  restartIce(): void {
    if (this.closed_ || !this.negotiated) return;
    this.iceRestart = true;
    this.renegotiate();
  }

  /** Idempotent. Stops every consumer and the connection. */
  async close(): Promise<void> {
    if (this.closed_) return;
    this.closed_ = true;
    live.transports--;
    this.health.stop();
    for (const cancel of this.cancelTicks.splice(0)) cancel();
    this.fast?.listenRtcp(undefined);
    if (this.outstanding) clearTimeout(this.outstanding.timer);
    this.outstanding = undefined;
    for (const consumer of [...this.consumers.values()]) consumer.close();
    this.consumers.clear();
    this.removeAllListeners();
    await this.pc.close().catch(() => {});
  }

  /**
   * Once DTLS is up: our own SRTP for sending, and the subscriber's RTCP for bandwidth, key
   * frames and retransmissions. With our SRTCP the SFU reads that RTCP itself
   * (rtcp-feedback.ts); what it leaves, and all of it without, goes through werift's parser
   * to {@link onWeriftRtcp}. Either way it ends in the same handlers (`feedback`).
   */
  private takeOverSrtp(dtls = this.pc.dtlsTransports[0]): void {
    if (!dtls || this.srtpDtls === dtls) return;
    this.srtpDtls = dtls;
    this.fast = this.network.fastSrtp ? FastTransport.create(dtls) : undefined;
    for (const consumer of this.consumers.values()) consumer.setTransport(this.fast);
    this.fast?.listenRtcp((packet) => {
      if (!readRtcp(packet, this.feedback)) return false;
      rtp.rtcpRead++;
      return true;
    });
    dtls.onRtcp.subscribe((packet) => this.onWeriftRtcp(packet));
  }

  /**
   * The subscriber's RTCP as werift parsed it. A FIR is routed by the SSRC of each of its
   * entries (RFC 5104 §4.3.1: its media SSRC is 0, by which werift's own routing would send
   * it to no sender).
   */
  private onWeriftRtcp(packet: RtcpPacket): void {
    if (packet instanceof RtcpPayloadSpecificFeedback) {
      const { feedback } = packet;
      if (feedback instanceof ReceiverEstimatedMaxBitrate) {
        this.feedback.remb(Number(feedback.bitrate));
      } else if (feedback instanceof PictureLossIndication) {
        this.feedback.keyFrameRequest(feedback.mediaSsrc);
      } else if (feedback.count === FIR_FORMAT) {
        const entries = (feedback as { fir?: { ssrc: number }[] }).fir ?? [];
        for (const { ssrc } of entries) this.feedback.keyFrameRequest(ssrc);
      }
    } else if (packet instanceof RtcpTransportLayerFeedback) {
      if (packet.feedback instanceof GenericNack)
        this.feedback.nack(packet.feedback.mediaSourceSsrc, packet.feedback.lost);
    } else if (packet instanceof RtcpRrPacket || packet instanceof RtcpSrPacket) {
      for (const report of packet.reports) this.feedback.loss(report.fractionLost);
    }
  }

  /** The consumer whose outgoing stream is `ssrc` (feedback names it). */
  private consumerSending(ssrc: number): Consumer | undefined {
    for (const consumer of this.consumers.values()) if (consumer.ssrc === ssrc) return consumer;
    return undefined;
  }

  /**
   * Shares the downlink among the video tracks (bandwidth-allocation.ts), then lets every
   * consumer re-evaluate its layer (publishers' layers come and go too).
   */
  private allocate(): void {
    if (this.closed_) return;
    const now = performance.now();
    const demands: VideoDemand[] = [];
    const simulcast: Consumer[] = [];
    let usage = 0;
    let fixed = 0;
    let wantedTotal = 0;
    let wantsMore = false;
    for (const consumer of this.consumers.values()) {
      const layer = consumer.layer;
      const rate = consumer.isPaused || layer === undefined ? 0 : consumer.producer.bitrate(layer);
      usage += rate;
      const wanted = consumer.wantedLayer();
      if (!wanted) {
        fixed += rate;
        continue;
      }
      const bitrate = (l: "low" | "medium" | "high") =>
        consumer.producer.bitrate(l) || NOMINAL_BITRATE[l];
      const before = this.wantedBefore.get(consumer);
      // A tile grown (or a preference raised), not a new track at its first layer.
      if (before !== undefined && rank(wanted) > rank(before)) wantsMore = true;
      this.wantedBefore.set(consumer, wanted);
      wantedTotal += bitrate(wanted);
      demands.push({
        id: consumer.trackId,
        wanted,
        // A switch under way counts as made: it keeps its layer while that fits, so an
        // estimate wavering inside the 15 % upgrade headroom does not cancel it before its
        // key frame and ask again a moment later.
        current: consumer.targetLayer ?? undefined,
        bitrates: { low: bitrate("low"), medium: bitrate("medium"), high: bitrate("high") },
        priority: consumer.tileArea,
      });
      simulcast.push(consumer);
    }
    if (demands.length > 0) {
      const constrained = simulcast.some(
        (c) => c.capLayer !== undefined && rank(c.capLayer) < rank(c.wantedLayer()!),
      );
      const budget = this.downlink.budget(now, usage, constrained, {
        wantedBps: wantedTotal + fixed,
        wantsMore,
      });
      const caps = allocate(demands, budget, fixed);
      for (const consumer of simulcast) {
        const cap = Number.isFinite(budget) ? caps.get(consumer.trackId) : undefined;
        // Giving up a switch up before its key frame is a step down too (it backs off probes).
        const target = consumer.targetLayer;
        if (cap !== undefined && target && rank(cap) < rank(target)) this.downlink.onDowngrade(now);
        consumer.setCap(cap);
      }
    }
    for (const consumer of this.consumers.values()) consumer.reselect();
  }

  private sendReports(): void {
    const dtls = this.pc.dtlsTransports[0];
    if (this.closed_ || dtls?.state !== "connected") return;
    const ntp = ntpTime();
    const now = performance.now();
    const reports: RtcpSrPacket[] = [];
    for (const consumer of this.consumers.values()) {
      const report = consumer.senderReport(ntp, now, 2 * SENDER_REPORT_INTERVAL_MS);
      if (report) reports.push(report);
    }
    if (reports.length === 0) return;
    // Serialised here only for the fast transport; werift's path (none, or ICE-TCP) serialises itself.
    if (this.fast?.sendRtcp(Buffer.concat(reports.map((report) => report.serialize())))) return;
    void dtls.sendRtcp(reports).catch(() => {});
  }

  private async offer(): Promise<void> {
    if (this.closed_) return;
    // A change made while the outstanding offer was being created (its track arrived in a
    // later task) may be missing from it: it goes into the next.
    if (this.outstanding) {
      if (this.changes > this.offeredChanges) this.dirty = true;
      return;
    }
    if (this.consumers.size === 0 && !this.negotiated) return;
    this.dirty = false;
    this.offeredChanges = this.changes;
    const iceRestart = this.iceRestart;
    this.iceRestart = false;
    const offer = await this.pc.createOffer({ iceRestart });
    await this.pc.setLocalDescription(offer);
    hardenDtls(this.pc);
    followNominations(this.pc);
    authenticateChecks(this.pc);
    whenSrtpReady(this.pc, (dtls) => this.takeOverSrtp(dtls));
    if (this.closed_) return;
    this.negotiated = true;
    const revision = ++this.revision;
    const timer = setTimeout(() => {
      if (this.outstanding?.revision !== revision) return;
      this.emit("failed", {
        code: "internal",
        message: `no answer to subscribe offer ${revision}`,
      });
    }, this.answerTimeoutMs);
    timer.unref();
    // What werift applied stays as is; the text sent is what standard answerers accept.
    const sdp = announceAddress(
      offerForPeers(this.pc.localDescription?.sdp ?? offer.sdp),
      this.network.mediaIp,
      this.network.announcedIp,
    );
    const tracks = [...this.consumers.values()]
      .filter((consumer) => consumer.mid !== null)
      .map((consumer) => ({ mid: consumer.mid as string, trackId: consumer.trackId }));
    this.outstanding = { revision, timer, offer: { revision, sdp, tracks } };
    this.emit("offer", this.outstanding.offer);
  }

  /** Sends the unanswered offer again (the client resumed on a new socket). */
  resendOffer(): void {
    if (this.outstanding && !this.closed_) this.emit("offer", this.outstanding.offer);
  }
}
