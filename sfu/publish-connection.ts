/**
 * The publish side of a participant: a werift peer connection the client offers, one
 * receiving transceiver per published track. The SFU answers as DTLS server. Each offer
 * comes with the list of tracks it carries (mid → source); the connection reconciles its
 * producers with that list: new mids become producers, missing ones are closed.
 */
import { randomBytes } from "node:crypto";
import { type RTCDtlsTransport, RTCPeerConnection, RTP_EXTENSION_URI } from "werift";
import { type HealthWatch, watchHealth } from "./connection-health";
import { NegotiationError, SfuError } from "./errors";
import {
  acceptCandidate,
  announceAddress,
  asDtlsServer,
  type MediaNetwork,
  peerConfig,
} from "./media";
import { Producer } from "./producer";
import {
  type CommandPayload,
  type CommandResult,
  type IceCandidate,
  kindOfSource,
  SIMULCAST_LAYERS,
  type SimulcastLayer,
} from "./protocol";
import { describeMedia, normalizeRemote } from "./sdp";
import { FastTransport, whenSrtpReady } from "./srtp/fast-transport";
import { live } from "./stats";
import { readTransportSequence, TransportFeedback } from "./transport-feedback";
import { every } from "./ticker";
import { TypedEmitter } from "./typed-emitter";
import {
  authenticateChecks,
  disableWeriftTransportFeedback,
  followNominations,
  hardenDtls,
  resumeRestartedIce,
  disableWeriftNacks,
} from "./werift-patches";

/** How often transport-wide feedback goes back to the publisher (Chromium sends it at 20/s too). */
const FEEDBACK_INTERVAL_MS = 50;

type PublishEvents = {
  produced: [Producer];
  /** The connection cannot go on; the reason is for the log (connection-health.ts). */
  failed: [reason: string];
};

type DeclaredTrack = CommandPayload<"publishOffer">["tracks"][number];

export class PublishConnection extends TypedEmitter<PublishEvents> {
  readonly pc: RTCPeerConnection;
  readonly producers = new Map<string, Producer>();
  private closed_ = false;
  private fast: FastTransport | undefined;
  private srtpDtls: RTCDtlsTransport | undefined;
  private stopFeedback: (() => void) | undefined;
  private readonly health: HealthWatch;

  constructor(
    private readonly peerId: string,
    private readonly network: MediaNetwork,
    connectTimeoutMs: number,
  ) {
    super();
    this.pc = new RTCPeerConnection(peerConfig(network, "publish", "lite"));
    live.transports++;
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === "connected") this.takeOverSrtp();
    });
    this.health = watchHealth(this.pc, connectTimeoutMs, (reason) => this.emit("failed", reason));
  }

  /**
   * Once DTLS is up: decrypt with our own SRTP, and answer every packet's transport-wide
   * sequence number with congestion control feedback.
   */
  private takeOverSrtp(dtls = this.pc.dtlsTransports[0]): void {
    if (!dtls || this.srtpDtls === dtls) return;
    this.srtpDtls = dtls;
    this.fast?.listen(undefined);
    this.stopFeedback?.();
    this.stopFeedback = undefined;
    this.fast = this.network.fastSrtp ? FastTransport.create(dtls) : undefined;
    const extensionId = this.pc
      .getTransceivers()
      .flatMap((t) => t.headerExtensions)
      .find((e) => e.uri === RTP_EXTENSION_URI.transportWideCC)?.id;
    if (!this.fast || extensionId === undefined) return;
    const fast = this.fast;
    const feedback = new TransportFeedback(randomBytes(4).readUInt32BE(0), (packet) => {
      if (fast.sendRtcp(packet)) return;
      // werift's SRTCP path (ICE-TCP) only needs something it can serialise.
      void dtls.sendRtcp([{ serialize: () => packet } as never]).catch(() => {});
    });
    let mediaSsrc = 0;
    // On the shared tick only while packets arrive: a publisher that stopped sending (an
    // idle call) does not wake its worker 20 times a second for nothing (issue 15).
    const flush = () => {
      if (feedback.flush(mediaSsrc)) return;
      this.stopFeedback?.();
      this.stopFeedback = undefined;
    };
    this.fast.listen((packet, headerLength, arrivalMs) => {
      const seq = readTransportSequence(packet, headerLength, extensionId);
      if (seq < 0) return;
      mediaSsrc =
        ((packet[8]! << 24) | (packet[9]! << 16) | (packet[10]! << 8) | packet[11]!) >>> 0;
      feedback.record(seq, arrivalMs);
      this.stopFeedback ??= every(FEEDBACK_INTERVAL_MS, flush);
    });
  }

  /** Applies an offer and returns the answer; callers serialize calls (the peer's queue). */
  async applyOffer(sdp: string, declared: DeclaredTrack[]): Promise<CommandResult<"publishOffer">> {
    const layersByMid = checkOffer(sdp, declared);
    try {
      await this.pc.setRemoteDescription({ type: "offer", sdp: normalizeRemote(sdp) });
      disableWeriftTransportFeedback(this.pc);
      // The producers NACK per simulcast layer, paced, and ask for a key frame when a lost
      // packet does not come back in time (upstream-loss.ts); werift's generator is off.
      disableWeriftNacks(this.pc);
    } catch (err) {
      await this.rollback();
      throw new NegotiationError("bad_sdp", `publish offer refused: ${messageOf(err)}`);
    }
    let answerSdp: string;
    try {
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription({ type: "answer", sdp: asDtlsServer(answer.sdp) });
      answerSdp = this.pc.localDescription?.sdp ?? answer.sdp;
      hardenDtls(this.pc);
      followNominations(this.pc);
      authenticateChecks(this.pc);
      resumeRestartedIce(this.pc);
      whenSrtpReady(this.pc, (dtls) => this.takeOverSrtp(dtls));
    } catch (err) {
      await this.rollback();
      throw new NegotiationError(
        "bad_sdp",
        `could not answer the publish offer: ${messageOf(err)}`,
      );
    }
    this.reconcile(declared, layersByMid);
    this.health.negotiated();
    return {
      sdp: announceAddress(answerSdp, this.network.mediaIp, this.network.announcedIp),
      tracks: [...this.producers.values()].map((p) => ({
        mid: p.mid,
        trackId: p.id,
        source: p.source,
      })),
    };
  }

  addIceCandidate(candidate: IceCandidate | null): void {
    acceptCandidate(this.pc, candidate);
  }

  producerById(trackId: string): Producer | undefined {
    for (const producer of this.producers.values()) if (producer.id === trackId) return producer;
    return undefined;
  }

  /** Idempotent. Closes every producer (subscribers' consumers follow) and the connection. */
  async close(): Promise<void> {
    if (this.closed_) return;
    this.closed_ = true;
    live.transports--;
    this.health.stop();
    this.stopFeedback?.();
    this.stopFeedback = undefined;
    this.fast?.listen(undefined);
    for (const producer of [...this.producers.values()]) producer.close();
    this.producers.clear();
    this.removeAllListeners();
    await this.pc.close().catch(() => {});
  }

  private reconcile(declared: DeclaredTrack[], layersByMid: Map<string, SimulcastLayer[]>): void {
    const wanted = new Map(declared.map((track) => [track.mid, track]));
    for (const [mid, producer] of this.producers) {
      const track = wanted.get(mid);
      if (!track || track.source !== producer.source) {
        this.producers.delete(mid);
        producer.close();
      } else {
        producer.setMuted(track.muted);
      }
    }
    for (const track of declared) {
      if (this.producers.has(track.mid)) continue;
      const transceiver = this.pc.getTransceivers().find((t) => t.mid === track.mid);
      if (!transceiver) throw new SfuError("bad_sdp", `no m-line with mid ${track.mid}`);
      const producer = new Producer(
        this.peerId,
        track.source,
        track.mid,
        transceiver,
        layersByMid.get(track.mid) ?? [],
        track.muted,
      );
      this.producers.set(track.mid, producer);
      // Once werift has routed a stream of it, its media skips werift's parse and route.
      const routed = new Set<number>();
      producer.onStream = (ssrc, payloadType, route) => {
        if (!this.fast) return;
        this.fast.route(ssrc, payloadType, route);
        routed.add(ssrc);
      };
      producer.on("closed", () => {
        for (const ssrc of routed) this.fast?.unroute(ssrc);
        if (this.producers.get(track.mid) === producer) this.producers.delete(track.mid);
      });
      this.emit("produced", producer);
    }
  }

  private async rollback(): Promise<void> {
    if (this.pc.signalingState === "have-remote-offer") {
      await this.pc.setLocalDescription({ type: "rollback" }).catch(() => {});
    }
  }
}

/**
 * Checks the offer against the declared tracks before werift sees it: every declared mid
 * exists, sends, has the kind its source needs, and only a camera carries simulcast rids
 * (named after the layers). Returns the simulcast layers per mid.
 */
function checkOffer(sdp: string, declared: DeclaredTrack[]): Map<string, SimulcastLayer[]> {
  const mids = new Set(declared.map((t) => t.mid));
  const sources = new Set(declared.map((t) => t.source));
  if (mids.size !== declared.length)
    throw new NegotiationError("bad_request", "a mid is declared twice");
  if (sources.size !== declared.length)
    throw new NegotiationError("bad_request", "a source is declared twice");
  // Read leniently (line ends, unknown attributes, session-level direction, rid
  // restrictions: sfu/sdp.ts); what matters here is checked strictly.
  const sections = describeMedia(sdp);
  if (sections.length === 0 || sections.length > 16) {
    throw new NegotiationError("bad_sdp", "the offer must have 1 to 16 m-lines");
  }
  if (sections.some((m) => Number.isNaN(m.port)))
    throw new NegotiationError("bad_sdp", "an m-line has no valid port");
  const layersByMid = new Map<string, SimulcastLayer[]>();
  for (const track of declared) {
    const media = sections.find((m) => m.mid === track.mid);
    if (!media) throw new NegotiationError("bad_sdp", `no m-line with mid ${track.mid}`);
    if (media.kind !== kindOfSource(track.source)) {
      throw new NegotiationError(
        "bad_sdp",
        `mid ${track.mid} is ${media.kind}, but ${track.source} needs ${kindOfSource(track.source)}`,
      );
    }
    if (media.port === 0 || (media.direction !== "sendonly" && media.direction !== "sendrecv")) {
      throw new NegotiationError("bad_sdp", `mid ${track.mid} does not send`);
    }
    const rids = media.sendRids;
    if (rids.length > 0) {
      if (track.source !== "camera")
        throw new NegotiationError("bad_sdp", "only the camera may use simulcast");
      const known = rids.filter((rid): rid is SimulcastLayer =>
        (SIMULCAST_LAYERS as readonly string[]).includes(rid),
      );
      if (known.length !== rids.length) {
        throw new NegotiationError(
          "bad_sdp",
          `simulcast rids must be ${SIMULCAST_LAYERS.join(", ")}`,
        );
      }
      layersByMid.set(
        track.mid,
        SIMULCAST_LAYERS.filter((layer) => known.includes(layer)),
      );
    }
  }
  return layersByMid;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
