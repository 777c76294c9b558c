/**
 * A Peer is one participant in a room's call: its socket, its publish connection (created
 * on its first offer), its subscribe connection, and the commands it sends after `join`.
 * It tells its Room what happened through typed events and never reaches into it.
 */
import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { AwaitQueue } from "./await-queue";
import { assertUnreachable, SfuError } from "./errors";
import type { Logger } from "./log";
import type { MediaNetwork } from "./media";
import type { Producer, ProducerLike } from "./producer";
import type {
  CommandName,
  CommandPayload,
  CommandResult,
  EventName,
  EventPayload,
  Participant,
} from "./protocol";
import { PublishConnection } from "./publish-connection";
import type { PeerSocket } from "./signaling";
import { SubscribeConnection } from "./subscribe-connection";
import type { CallGrant } from "./token";
import { live } from "./stats";
import { TypedEmitter } from "./typed-emitter";

/**
 * A socket that died without closing (its network went: "ping timeout", "transport error")
 * leaves the peer waiting this long for its client to `resume` on a new socket. A socket
 * closed on purpose (a tab closed, `leave`) ends the peer at once.
 */
export const RESUME_GRACE_MS = 20_000;
const CLEAN_DISCONNECTS = new Set([
  "transport close",
  "client namespace disconnect",
  "server namespace disconnect",
  "server shutting down",
]);

type PeerEvents = {
  closed: [];
  /** A new published track; the room offers it to the others. */
  produced: [Producer];
};

export interface PeerOptions {
  grant: CallGrant;
  socket: PeerSocket;
  network: MediaNetwork;
  answerTimeoutMs: number;
  /** How long a negotiated media connection may take to connect (connection-health.ts). */
  connectTimeoutMs: number;
  log: Logger;
}

export class Peer extends TypedEmitter<PeerEvents> {
  readonly id = randomUUID();
  readonly resumeToken = randomBytes(18).toString("base64url");
  private socket: PeerSocket;
  private resumeTimer: NodeJS.Timeout | undefined;
  readonly participant: Participant;
  readonly mayPublish: boolean;
  readonly subscription: SubscribeConnection;
  private publication: PublishConnection | undefined;
  /** Commands run one at a time: an ICE candidate never overtakes the offer it belongs to. */
  private readonly commands = new AwaitQueue();
  private closed_ = false;

  static async create(options: PeerOptions): Promise<Peer> {
    return new Peer(options);
  }

  private constructor(private readonly options: PeerOptions) {
    super();
    live.peers++;
    const { grant, socket, network, answerTimeoutMs, connectTimeoutMs } = options;
    this.participant = { peerId: this.id, userId: grant.userId, displayName: grant.displayName };
    this.mayPublish = grant.mayPublish;
    this.socket = socket;
    this.subscription = new SubscribeConnection(network, answerTimeoutMs, connectTimeoutMs);
    this.subscription.on("offer", (offer) => this.send("subscribeOffer", offer));
    this.subscription.on("failed", (error) => this.fail(error.message));
    this.subscription.on("consumerAdded", (consumer) => {
      consumer.on("layerChanged", (layer) =>
        this.send("layerChanged", { trackId: consumer.trackId, layer }),
      );
    });
    this.watch(socket);
  }

  /** Whether `token` is this peer's resume token (constant time). */
  owns(token: string): boolean {
    const given = Buffer.from(token);
    const own = Buffer.from(this.resumeToken);
    return given.length === own.length && timingSafeEqual(given, own);
  }

  /**
   * The client's new socket takes over: commands and events go through it from now on, the
   * old one is dropped, and an unanswered subscribe offer is sent again (its first copy may
   * have died with the old socket).
   */
  resume(socket: PeerSocket): void {
    if (this.closed_) throw new SfuError("unknown_session", "that call session has ended");
    const old = this.socket;
    this.socket = socket;
    clearTimeout(this.resumeTimer);
    this.watch(socket);
    old.disconnect();
    this.options.log.info("peer resumed", { peerId: this.id });
    this.subscription.resendOffer();
  }

  private watch(socket: PeerSocket): void {
    socket.onDisconnect((reason) => {
      if (this.socket !== socket || this.closed_) return;
      if (CLEAN_DISCONNECTS.has(reason)) {
        this.close("disconnected");
        return;
      }
      this.options.log.info("peer lost its socket; waiting for it to resume", {
        peerId: this.id,
        reason,
      });
      clearTimeout(this.resumeTimer);
      this.resumeTimer = setTimeout(() => this.close(`disconnected (${reason})`), RESUME_GRACE_MS);
      this.resumeTimer.unref();
    });
  }

  get closed(): boolean {
    return this.closed_;
  }

  get producers(): Producer[] {
    return this.publication ? [...this.publication.producers.values()] : [];
  }

  /** Handles a parsed command (the socket's handler once joined). */
  handle = <K extends CommandName>(
    name: K,
    payload: CommandPayload<K>,
  ): Promise<CommandResult<K>> =>
    this.commands.push(() => {
      if (this.closed_) throw new SfuError("closing", "you have left the call");
      return this.dispatch(name, payload);
    });

  send<K extends EventName>(event: K, payload: EventPayload<K>): void {
    if (!this.closed_) this.socket.send(event, payload);
  }

  /** Starts forwarding another participant's track to this one. */
  subscribe(producer: ProducerLike): void {
    if (!this.closed_) this.subscription.addConsumer(producer, producer.peerId);
  }

  /** Idempotent: ends both connections, tells the client why, and emits `closed`. */
  close(reason = "closed"): void {
    if (this.closed_) return;
    this.closed_ = true;
    live.peers--;
    this.options.log.debug("peer closed", { peerId: this.id, reason });
    clearTimeout(this.resumeTimer);
    if (this.socket.connected) {
      this.socket.send("closed", { reason });
      this.socket.disconnect();
    }
    void this.publication?.close();
    void this.subscription.close();
    this.emit("closed");
    this.removeAllListeners();
  }

  private async dispatch<K extends CommandName>(
    name: K,
    payload: CommandPayload<K>,
  ): Promise<CommandResult<K>> {
    // Each case narrows by name; the casts only re-attach the per-name result type.
    const command = { name, payload } as Command;
    switch (command.name) {
      case "join":
      case "resume":
        throw new SfuError("already_joined", "you have already joined");
      case "ping":
        return {} as CommandResult<K>;
      case "publishOffer":
        return (await this.publishOffer(command.payload)) as CommandResult<K>;
      case "subscribeAnswer":
        await this.subscription.applyAnswer(command.payload.revision, command.payload.sdp);
        return {} as CommandResult<K>;
      case "iceCandidate": {
        const { connection, candidate } = command.payload;
        if (connection === "publish") {
          if (!this.publication) throw new SfuError("bad_candidate", "no publish connection yet");
          this.publication.addIceCandidate(candidate);
        } else {
          this.subscription.addIceCandidate(candidate);
        }
        return {} as CommandResult<K>;
      }
      case "restartIce":
        this.subscription.restartIce();
        return {} as CommandResult<K>;
      case "setTrackMuted": {
        const producer = this.publication?.producerById(command.payload.trackId);
        if (!producer) throw new SfuError("unknown_track", "you publish no track with that id");
        producer.setMuted(command.payload.muted);
        return {} as CommandResult<K>;
      }
      case "setPreferredLayer": {
        this.consumer(command.payload.trackId).setPreferredLayer(command.payload.layer);
        return {} as CommandResult<K>;
      }
      case "setTileSize": {
        this.consumer(command.payload.trackId).setTileSize(
          command.payload.width,
          command.payload.height,
        );
        return {} as CommandResult<K>;
      }
      case "leave":
        // Answer first, then close: the ack must reach the client before the disconnect.
        setImmediate(() => this.close("left"));
        return {} as CommandResult<K>;
      default:
        return assertUnreachable(command);
    }
  }

  private async publishOffer(
    payload: CommandPayload<"publishOffer">,
  ): Promise<CommandResult<"publishOffer">> {
    if (!this.mayPublish)
      throw new SfuError("forbidden", "your call token does not allow publishing");
    if (!this.publication) {
      const publication = new PublishConnection(
        this.id,
        this.options.network,
        this.options.connectTimeoutMs,
      );
      publication.on("produced", (producer) => this.emit("produced", producer));
      publication.on("failed", (reason) => this.fail(`publish connection failed: ${reason}`));
      this.publication = publication;
    }
    return this.publication.applyOffer(payload.sdp, payload.tracks);
  }

  /** A media connection cannot go on: say why (to the client and the log) and leave. */
  private fail(message: string): void {
    if (this.closed_) return;
    this.options.log.warn("media connection failed", {
      peerId: this.id,
      userId: this.participant.userId,
      displayName: this.participant.displayName,
      roomId: this.options.grant.roomId,
      reason: message,
    });
    this.send("peerError", { code: "internal", message });
    this.close(message);
  }

  private consumer(trackId: string) {
    const consumer = this.subscription.consumers.get(trackId);
    if (!consumer) throw new SfuError("unknown_track", "you receive no track with that id");
    return consumer;
  }
}

/** The parsed commands as a discriminated union, for the exhaustive switch. */
type Command = { [K in CommandName]: { name: K; payload: CommandPayload<K> } }[CommandName];
