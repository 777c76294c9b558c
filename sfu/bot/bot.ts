/**
 * A headless call participant on werift: joins with a call token, publishes synthetic
 * RTP (mic, camera with optional simulcast, screen), subscribes to everyone else and
 * counts what arrives per track. Speaks exactly the protocol a browser speaks, so it serves
 * the integration tests and the load benchmark. CLI: sfu/bot/cli.ts.
 */
import {
  GenericNack,
  PictureLossIndication,
  ReceiverEstimatedMaxBitrate,
  RtcpTransportLayerFeedback,
  RTCPeerConnection,
  TransportWideCC,
  type RTCRtpTransceiver,
  RTP_EXTENSION_URI,
  RtcpPayloadSpecificFeedback,
  RtpHeader,
  RtpPacket,
  serializeAudioLevelIndication,
  serializeSdesMid,
  serializeSdesRTPStreamID,
} from "werift";
import { type MediaNetwork, peerConfig } from "../media";
import { FastTransport, whenSrtpReady } from "../srtp/fast-transport";
import { nackPerStream, resumeRestartedIce } from "../werift-patches";
import {
  type CommandResult,
  type EventPayload,
  kindOfSource,
  type Participant,
  SIMULCAST_LAYERS,
  type SimulcastLayer,
  type TrackInfo,
  type TrackSource,
} from "../protocol";
import { SignalingClient, type SignalingOptions } from "../signaling-client";
import { BOT_REMB_BPS, browserPeerConfig, REMB_INTERVAL_MS, wantsRemb } from "./browser-like";
import { countPacket, newReceivedTrack, type ReceivedTrack } from "./received-track";
import {
  AudioSource,
  DEFAULT_VIDEO,
  type OutgoingPacket,
  VideoSource,
  type VideoShape,
} from "./rtp-source";

export type { ReceivedTrack };

export interface BotOptions extends SignalingOptions {
  token: string;
  roomId: string;
  network: MediaNetwork;
  /** Send our own ICE candidates over signaling too (they are also in the SDP). */
  trickle?: boolean;
  /**
   * Decrypt received media with the SFU's own SRTP (sfu/srtp) instead of werift's, so a
   * load run spends its CPU on the SFU rather than on the bots. Off in tests, where werift's
   * implementation checks ours.
   */
  fastSrtp?: boolean;
  /**
   * `browser`: negotiate and send what Chromium does (header extensions, transport-wide
   * feedback, REMB; see browser-like.ts), for load runs. `plain` (default): the SFU's own
   * configuration and no REMB, as the tests expect.
   */
  feedback?: "browser" | "plain";
}

export interface PublishOptions {
  mic?: boolean;
  camera?: boolean | { simulcast?: boolean; shape?: Partial<VideoShape> };
  screen?: boolean | { shape?: Partial<VideoShape> };
  /** Mic level in -dBov (30 = speaking, 127 = silent). */
  micLevel?: number;
}

interface OutgoingTrack {
  source: TrackSource;
  transceiver: RTCRtpTransceiver;
  video?: VideoSource;
  audio?: AudioSource;
  /** Per simulcast layer SSRC (raw sending); empty = werift's sender does it. */
  layerSsrcs: number[];
  trackId?: string;
}

export class Bot {
  /** Replaced by {@link resumeSignaling}. */
  signaling: SignalingClient;
  self?: CommandResult<"join">["self"];
  private resumeToken: string | undefined;
  readonly participants = new Map<string, Participant>();
  /** Tracks published by others, as announced. */
  readonly announced = new Map<string, TrackInfo>();
  /** Tracks received on the subscribe connection, by track id. */
  readonly received = new Map<string, ReceivedTrack>();
  readonly errors: EventPayload<"peerError">[] = [];
  activeSpeaker: string | null = null;
  closedReason?: string;
  offersAnswered = 0;
  /** The SDPs the SFU sent (publish answer, subscribe offers), e.g. to find its media ports. */
  readonly remoteSdps: string[] = [];
  keyFrameRequests = 0;
  /** Transport-wide feedback messages received about our published packets. */
  transportFeedback = 0;
  /** Key-frame requests to drop (counted, not answered), as if the network lost them. */
  dropKeyFrameRequests = 0;
  /** Sees every received packet with its track (e.g. for latency probes). */
  onRtp: ((track: ReceivedTrack, packet: RtpPacket) => void) | undefined;

  private publishPc?: RTCPeerConnection;
  private readonly subscribePc: RTCPeerConnection;
  private readonly outgoing = new Map<string, OutgoingTrack>();
  private readonly trackIdByMid = new Map<string, string>();
  /** `layerChanged` may come before the offer that carries the track. */
  private readonly layerByTrack = new Map<string, SimulcastLayer | null>();
  private subscribeChain: Promise<void> = Promise.resolve();
  private rembTimer: NodeJS.Timeout | undefined;

  private constructor(private readonly options: BotOptions) {
    this.signaling = new SignalingClient(options);
    this.subscribePc = new RTCPeerConnection(this.peerConfig("subscribe"));
    this.subscribePc.onTrack.subscribe((track) => {
      const transceiver = this.subscribePc
        .getTransceivers()
        .find((t) => t.receiver.tracks.includes(track));
      if (!transceiver) return;
      track.onReceiveRtp.subscribe((packet) => this.count(transceiver, packet));
    });
    this.listen();
  }

  /** Connects and joins; rejects with a CommandError when the SFU refuses. */
  static async join(options: BotOptions): Promise<Bot> {
    const bot = new Bot(options);
    try {
      await bot.signaling.connected();
      const joined = await bot.signaling.request("join", {
        token: options.token,
        roomId: options.roomId,
      });
      bot.self = joined.self;
      bot.resumeToken = joined.resumeToken;
      for (const participant of joined.participants)
        bot.participants.set(participant.peerId, participant);
      for (const track of joined.tracks) bot.announce(track);
      return bot;
    } catch (err) {
      await bot.close();
      throw err;
    }
  }

  get peerId(): string | undefined {
    return this.self?.peerId;
  }

  /** A subscribe offer can overtake the join answer or the announcement: link them either way. */
  private announce(track: TrackInfo): void {
    this.announced.set(track.trackId, track);
    const received = this.received.get(track.trackId);
    if (received) received.info ??= track;
  }

  /** Opens the publish connection with the given tracks and starts sending once connected. */
  async publish(options: PublishOptions): Promise<CommandResult<"publishOffer">> {
    if (this.publishPc) throw new Error("this bot already publishes");
    const pc = new RTCPeerConnection(this.peerConfig("publish"));
    this.publishPc = pc;
    const wanted: Array<{ source: TrackSource; shape?: VideoShape; simulcast: boolean }> = [];
    if (options.mic) wanted.push({ source: "mic", simulcast: false });
    if (options.camera) {
      const camera = typeof options.camera === "object" ? options.camera : {};
      const simulcast = camera.simulcast ?? false;
      wanted.push({
        source: "camera",
        simulcast,
        shape: { ...DEFAULT_VIDEO, ...camera.shape, layers: simulcast ? 3 : 1 },
      });
    }
    if (options.screen) {
      const screen = typeof options.screen === "object" ? options.screen : {};
      wanted.push({
        source: "screen",
        simulcast: false,
        shape: { ...DEFAULT_VIDEO, ...screen.shape, layers: 1 },
      });
    }
    for (const { source, simulcast, shape } of wanted) {
      const transceiver = pc.addTransceiver(kindOfSource(source), {
        direction: "sendonly",
        ...(simulcast
          ? { simulcast: SIMULCAST_LAYERS.map((rid) => ({ rid, direction: "send" as const })) }
          : {}),
      });
      const track: OutgoingTrack = {
        source,
        transceiver,
        layerSsrcs: simulcast
          ? SIMULCAST_LAYERS.map(() => Math.floor(Math.random() * 0xffffffff) >>> 0)
          : [],
      };
      if (shape) track.video = new VideoSource(shape, (packet) => this.sendPacket(track, packet));
      else {
        track.audio = new AudioSource((packet) => this.sendPacket(track, packet));
        track.audio.level = options.micLevel ?? 127;
      }
      this.outgoing.set(source, track);
    }
    const candidates: unknown[] = [];
    if (this.options.trickle)
      pc.onIceCandidate.subscribe((candidate) => candidates.push(candidate?.toJSON()));
    await pc.setLocalDescription(await pc.createOffer());
    const tracks = [...this.outgoing.values()].map((t) => ({
      mid: t.transceiver.mid as string,
      source: t.source,
    }));
    const answer = this.signaling.request("publishOffer", {
      sdp: pc.localDescription!.sdp,
      tracks,
    });
    // Candidates follow the offer, as a browser's would; the SFU runs commands in order.
    for (const candidate of candidates) void this.trickle(candidate);
    const result = await answer;
    this.remoteSdps.push(result.sdp);
    await pc.setRemoteDescription({ type: "answer", sdp: result.sdp });
    for (const published of result.tracks) {
      const track = this.outgoing.get(published.source);
      if (track) track.trackId = published.trackId;
    }
    // Simulcast layers are sent raw (werift's sender has one SSRC), so their PLIs are ours to read.
    pc.dtlsTransports[0]?.onRtcp.subscribe((packet) => {
      if (
        packet instanceof RtcpTransportLayerFeedback &&
        packet.feedback.count === TransportWideCC.count
      )
        this.transportFeedback++;
      if (!(packet instanceof RtcpPayloadSpecificFeedback)) return;
      if (packet.feedback.count !== PictureLossIndication.count) return;
      this.keyFrameRequests++;
      if (this.dropKeyFrameRequests > 0) {
        this.dropKeyFrameRequests--;
        return;
      }
      const mediaSsrc = (packet.feedback as PictureLossIndication).mediaSsrc;
      for (const track of this.outgoing.values()) {
        const layer = track.layerSsrcs.indexOf(mediaSsrc);
        if (layer >= 0) track.video?.requestKeyFrame(layer);
        else if (track.transceiver.sender.ssrc === mediaSsrc) track.video?.requestKeyFrame();
      }
    });
    await waitForConnected(pc, 10_000);
    for (const track of this.outgoing.values()) {
      track.video?.start();
      track.audio?.start();
    }
    return result;
  }

  /**
   * Restarts ICE on both connections, as a browser does after a network change: the
   * publish connection re-offers with fresh credentials, the subscribe connection asks the
   * SFU for a new offer (answered like any other).
   */
  async restartIce(): Promise<void> {
    const pc = this.publishPc;
    if (pc) {
      await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
      const tracks = [...this.outgoing.values()].map((t) => ({
        mid: t.transceiver.mid as string,
        source: t.source,
      }));
      const result = await this.signaling.request("publishOffer", {
        sdp: pc.localDescription!.sdp,
        tracks,
      });
      this.remoteSdps.push(result.sdp);
      await pc.setRemoteDescription({ type: "answer", sdp: result.sdp });
      resumeRestartedIce(pc);
    }
    await this.signaling.request("restartIce", {});
  }

  /**
   * Stops publishing one source with a re-offer whose m-line no longer sends, as a
   * browser does when a screen share ends (`removeTrack`).
   */
  async unpublish(source: TrackSource): Promise<void> {
    const pc = this.publishPc;
    const track = this.outgoing.get(source);
    if (!pc || !track) throw new Error(`this bot does not publish ${source}`);
    track.video?.stop();
    track.audio?.stop();
    this.outgoing.delete(source);
    track.transceiver.setDirection("inactive");
    await pc.setLocalDescription(await pc.createOffer());
    const tracks = [...this.outgoing.values()].map((t) => ({
      mid: t.transceiver.mid as string,
      source: t.source,
    }));
    const result = await this.signaling.request("publishOffer", {
      sdp: pc.localDescription!.sdp,
      tracks,
    });
    this.remoteSdps.push(result.sdp);
    await pc.setRemoteDescription({ type: "answer", sdp: result.sdp });
  }

  /**
   * Moves the session to a new signaling socket with `resume`, as a browser does after a
   * network change killed the old one; the old client is closed once the SFU has let go of it.
   */
  async resumeSignaling(): Promise<CommandResult<"resume">> {
    const old = this.signaling;
    const next = new SignalingClient(this.options);
    await next.connected();
    // Listen first: an unanswered offer is sent again before the answer to `resume`.
    this.signaling = next;
    this.listen();
    const state = await next.request("resume", { peerId: this.peerId!, token: this.resumeToken! });
    this.resumeToken = state.resumeToken;
    old.close();
    return state;
  }

  /** The track id the SFU gave one of our published sources. */
  publishedTrackId(source: TrackSource): string | undefined {
    return this.outgoing.get(source)?.trackId;
  }

  keyFramesSent(source: TrackSource, layer = 0): number {
    return this.outgoing.get(source)?.video?.keyFramesSent(layer) ?? 0;
  }

  /**
   * Stops or resumes sending one simulcast layer, as a browser does when its bandwidth
   * estimate drops (it resumes with a key frame).
   */
  pauseLayer(source: TrackSource, layer: number, paused: boolean): void {
    this.outgoing.get(source)?.video?.pauseLayer(layer, paused);
  }

  setMicLevel(level: number): void {
    const audio = this.outgoing.get("mic")?.audio;
    if (audio) audio.level = level;
  }

  setPreferredLayer(trackId: string, layer: SimulcastLayer | null) {
    return this.signaling.request("setPreferredLayer", { trackId, layer });
  }

  /** Stops every source without unpublishing (connections stay up): media simply stops. */
  pauseMedia(): void {
    for (const track of this.outgoing.values()) {
      track.video?.stop();
      track.audio?.stop();
    }
  }

  /** Packets our sources have produced, all tracks and layers. */
  packetsSent(): number {
    let total = 0;
    for (const track of this.outgoing.values())
      total += (track.video?.packetsSent ?? 0) + (track.audio?.packetsSent ?? 0);
    return total;
  }

  /** Packets received in retransmission (RTX, RFC 4588) streams, before werift unwraps them. */
  rtxPacketsReceived(): number {
    let total = 0;
    for (const transceiver of this.subscribePc.getTransceivers()) {
      const receiver = transceiver.receiver as unknown as {
        ssrcByRtx: Record<number, number>;
        remoteStreams: Record<number, { packets_received: number } | undefined>;
      };
      for (const rtxSsrc of Object.keys(receiver.ssrcByRtx))
        total += receiver.remoteStreams[Number(rtxSsrc)]?.packets_received ?? 0;
    }
    return total;
  }

  /** Sum of packets received on every track. */
  totalPackets(): number {
    let total = 0;
    for (const track of this.received.values()) total += track.packets;
    return total;
  }

  /** Resolves when `predicate` holds, polling every 50 ms; rejects after `timeoutMs`. */
  async waitFor(predicate: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline)
        throw new Error(`bot ${this.self?.displayName ?? "?"}: timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Leaves politely (the SFU answers, then disconnects), then closes everything. */
  async leave(): Promise<void> {
    await this.signaling.request("leave", {}).catch(() => {});
    await this.close();
  }

  /** Drops everything without a word, as a crashed tab would. */
  async close(): Promise<void> {
    clearInterval(this.rembTimer);
    for (const track of this.outgoing.values()) {
      track.video?.stop();
      track.audio?.stop();
    }
    this.signaling.close();
    await Promise.all([
      this.publishPc ? this.publishPc.close().catch(() => {}) : Promise.resolve(),
      this.subscribePc.close().catch(() => {}),
    ]);
  }

  private listen(): void {
    const s = this.signaling;
    s.on("participantJoined", ({ participant }) =>
      this.participants.set(participant.peerId, participant),
    );
    s.on("participantLeft", ({ peerId }) => this.participants.delete(peerId));
    s.on("trackPublished", ({ track }) => this.announce(track));
    s.on("trackUnpublished", ({ trackId }) => {
      this.announced.delete(trackId);
      const received = this.received.get(trackId);
      if (received) received.ended = true;
    });
    s.on("trackMuted", ({ trackId, muted }) => {
      const track = this.announced.get(trackId);
      if (track) track.muted = muted;
    });
    s.on("activeSpeaker", ({ peerId }) => (this.activeSpeaker = peerId));
    s.on("layerChanged", ({ trackId, layer }) => {
      this.layerByTrack.set(trackId, layer);
      const track = this.received.get(trackId);
      if (track) track.layer = layer;
    });
    s.on("peerError", (error) => this.errors.push(error));
    s.on("closed", ({ reason }) => (this.closedReason = reason));
    s.on("subscribeOffer", (offer) => {
      // Offers are answered strictly in order, one at a time.
      this.subscribeChain = this.subscribeChain
        .then(() => this.answer(offer))
        .catch((err: unknown) => {
          this.errors.push({ code: "internal", message: `answering failed: ${String(err)}` });
        });
    });
  }

  private async answer(offer: EventPayload<"subscribeOffer">): Promise<void> {
    const live = new Set(offer.tracks.map((t) => t.trackId));
    for (const { mid, trackId } of offer.tracks) {
      this.trackIdByMid.set(mid, trackId);
      if (!this.received.has(trackId)) {
        this.received.set(
          trackId,
          newReceivedTrack(
            mid,
            this.announced.get(trackId),
            this.layerByTrack.get(trackId) ?? null,
          ),
        );
      }
    }
    // A track the SFU no longer offers has ended (its m-line is stopped).
    for (const [trackId, track] of this.received) if (!live.has(trackId)) track.ended = true;
    this.remoteSdps.push(offer.sdp);
    await this.subscribePc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
    nackPerStream(this.subscribePc);
    await this.subscribePc.setLocalDescription(await this.subscribePc.createAnswer());
    resumeRestartedIce(this.subscribePc);
    if (this.options.fastSrtp)
      whenSrtpReady(this.subscribePc, (dtls) => void FastTransport.create(dtls));
    await this.signaling.request("subscribeAnswer", {
      revision: offer.revision,
      sdp: this.subscribePc.localDescription!.sdp,
    });
    this.offersAnswered++;
    this.startRemb();
  }

  private peerConfig(side: "publish" | "subscribe") {
    return this.options.feedback === "browser"
      ? browserPeerConfig(this.options.network, side)
      : peerConfig(this.options.network, side);
  }

  /** A browser-like bot reports its receive-side estimate when the SFU asked for REMB. */
  private startRemb(): void {
    if (this.options.feedback !== "browser" || this.rembTimer) return;
    const video = this.subscribePc.getTransceivers().filter((t) => t.kind === "video");
    if (!video.some(wantsRemb)) return;
    this.rembTimer = setInterval(() => {
      if (this.subscribePc.connectionState === "connected")
        void this.sendRemb(BOT_REMB_BPS).catch(() => {});
    }, REMB_INTERVAL_MS);
    this.rembTimer.unref();
  }

  private count(transceiver: RTCRtpTransceiver, packet: RtpPacket): void {
    const trackId = transceiver.mid !== null ? this.trackIdByMid.get(transceiver.mid) : undefined;
    const track = trackId ? this.received.get(trackId) : undefined;
    if (!track || track.ended) return;
    countPacket(track, packet);
    this.onRtp?.(track, packet);
  }

  /** Tells the SFU our receive-side bandwidth estimate (REMB), as a browser would. */
  async sendRemb(bitsPerSecond: number): Promise<void> {
    let mantissa = Math.round(bitsPerSecond);
    let exponent = 0;
    while (mantissa >= 1 << 18) {
      mantissa = Math.floor(mantissa / 2);
      exponent++;
    }
    const ssrcs = [...this.received.values()].flatMap((t) => [...t.ssrcs]);
    const remb = new ReceiverEstimatedMaxBitrate({
      senderSsrc: 1,
      mediaSsrc: 0,
      brExp: exponent,
      brMantissa: mantissa,
      ssrcNum: ssrcs.length,
      ssrcFeedbacks: ssrcs,
    });
    await this.subscribePc.dtlsTransports[0]?.sendRtcp([
      new RtcpPayloadSpecificFeedback({ feedback: remb }),
    ]);
  }

  /** Asks the SFU to retransmit packets of a received track (a generic NACK). */
  async sendNack(trackId: string, sequenceNumbers: number[]): Promise<void> {
    const nack = new GenericNack({
      senderSsrc: 1,
      mediaSourceSsrc: this.receivedSsrc(trackId),
      lost: sequenceNumbers,
    });
    await this.subscribePc.dtlsTransports[0]?.sendRtcp([
      new RtcpTransportLayerFeedback({ feedback: nack }),
    ]);
  }

  /** Asks the SFU for a key frame of a received track (a PLI), as a decoder that lost one would. */
  async sendPli(trackId: string): Promise<void> {
    const pli = new PictureLossIndication({ senderSsrc: 1, mediaSsrc: this.receivedSsrc(trackId) });
    await this.subscribePc.dtlsTransports[0]?.sendRtcp([
      new RtcpPayloadSpecificFeedback({ feedback: pli }),
    ]);
  }

  /** The SSRC a received track arrives on (what feedback about it names). */
  private receivedSsrc(trackId: string): number {
    const track = this.received.get(trackId);
    const ssrc = track ? [...track.ssrcs][0] : undefined;
    if (ssrc === undefined) throw new Error("no packets received on that track yet");
    return ssrc;
  }

  setTileSize(trackId: string, width: number, height: number) {
    return this.signaling.request("setTileSize", { trackId, width, height });
  }

  private async trickle(candidate: unknown): Promise<void> {
    if (!candidate || typeof candidate !== "object") return;
    const { candidate: line, sdpMid, sdpMLineIndex } = candidate as Record<string, unknown>;
    if (typeof line !== "string") return;
    await this.signaling
      .request("iceCandidate", {
        connection: "publish",
        candidate: {
          candidate: line,
          sdpMid: typeof sdpMid === "string" ? sdpMid : null,
          sdpMLineIndex: typeof sdpMLineIndex === "number" ? sdpMLineIndex : null,
        },
      })
      .catch((err: unknown) => this.errors.push({ code: "bad_candidate", message: String(err) }));
  }

  private sendPacket(track: OutgoingTrack, packet: OutgoingPacket): void {
    const { transceiver } = track;
    const sender = transceiver.sender;
    const payloadType = sender.codec?.payloadType;
    if (payloadType === undefined) return;
    const ext = extensionIds(transceiver);
    if (track.layerSsrcs.length > 0) {
      const rid = SIMULCAST_LAYERS[packet.layer]!;
      const header = new RtpHeader({
        payloadType,
        sequenceNumber: packet.sequenceNumber,
        timestamp: packet.timestamp,
        ssrc: track.layerSsrcs[packet.layer],
        marker: packet.marker,
        extensions: [
          ...(ext.mid && transceiver.mid
            ? [{ id: ext.mid, payload: serializeSdesMid(transceiver.mid) }]
            : []),
          ...(ext.rid ? [{ id: ext.rid, payload: serializeSdesRTPStreamID(rid) }] : []),
        ],
      });
      void sender.dtlsTransport.sendRtp(packet.payload, header).catch(() => {});
      return;
    }
    sendThroughSender(transceiver, packet);
  }
}

/**
 * Sends a packet of a single-layer track through werift's sender, which adds the `mid`,
 * transport-wide sequence number and abs-send-time extensions when negotiated; the audio
 * level is ours to add.
 */
export function sendThroughSender(transceiver: RTCRtpTransceiver, packet: OutgoingPacket): void {
  const sender = transceiver.sender;
  const payloadType = sender.codec?.payloadType;
  if (payloadType === undefined) return;
  const ext = extensionIds(transceiver);
  const header = new RtpHeader({
    payloadType,
    sequenceNumber: packet.sequenceNumber,
    timestamp: packet.timestamp,
    marker: packet.marker,
    extensions:
      packet.audioLevel !== undefined && ext.audioLevel
        ? [{ id: ext.audioLevel, payload: serializeAudioLevelIndication(packet.audioLevel) }]
        : [],
  });
  void sender.sendRtp(new RtpPacket(header, packet.payload)).catch(() => {});
}

const extensionCache = new WeakMap<
  RTCRtpTransceiver,
  { mid?: number; rid?: number; audioLevel?: number }
>();

/** The negotiated header extension ids of a transceiver, looked up once. */
function extensionIds(transceiver: RTCRtpTransceiver) {
  let ids = extensionCache.get(transceiver);
  if (!ids) {
    const find = (uri: string) => transceiver.headerExtensions.find((e) => e.uri === uri)?.id;
    ids = {
      mid: find(RTP_EXTENSION_URI.sdesMid),
      rid: find(RTP_EXTENSION_URI.sdesRTPStreamID),
      audioLevel: find(RTP_EXTENSION_URI.audioLevelIndication),
    };
    extensionCache.set(transceiver, ids);
  }
  return ids;
}

export function waitForConnected(pc: RTCPeerConnection, timeoutMs: number): Promise<void> {
  if (pc.connectionState === "connected") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.unSubscribe();
      reject(new Error("publish connection did not connect"));
    }, timeoutMs);
    const sub = pc.connectionStateChange.subscribe((state) => {
      if (state === "connected") {
        clearTimeout(timer);
        sub.unSubscribe();
        resolve();
      } else if (state === "failed" || state === "closed") {
        clearTimeout(timer);
        sub.unSubscribe();
        reject(new Error(`publish connection ${state}`));
      }
    });
  });
}
