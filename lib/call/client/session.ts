/**
 * One session with the SFU: a fresh ticket, the signaling socket (through the web node's
 * proxy), `join`, and the two peer connections. A session never recovers by itself: when
 * anything underneath dies it reports `lost` once and the Call opens a new one (the SFU
 * has already dropped the old peer by then, or will when its socket closes).
 */
import type { CommandResult, EventName, EventPayload } from "@/sfu/protocol";
import { CommandError, SignalingClient } from "@/sfu/signaling-client";
import { Publisher } from "./publisher";
import { type ReceivedTracks, Subscriber } from "./subscriber";
import { pathOverTcp } from "./quality";
import { fetchCallTicket, type IceSettings } from "./ticket";

/**
 * A media connection that stops being `connected` (a network change, a short outage, a
 * laptop lid) is restarted in place: ICE restart, new credentials and candidates, the same
 * tracks and tiles. Until it is back it is restarted again this often (a network that
 * changed twice, or came back on another address)...
 */
const ICE_RESTART_INTERVAL_MS = 5_000;
/** ...and once it has been down this long, the session counts as lost and the Call rejoins. */
const RECONNECT_TIMEOUT_MS = 30_000;
/** Chromium reports `disconnected` within a few seconds of lost consent; wait this much more. */
const DISCONNECTED_GRACE_MS = 1_000;
/** A signaling round trip slower than this counts as a dead socket (its network changed). */
const SIGNALING_CHECK_MS = 2_000;
/** How long one attempt to reconnect the signaling socket and resume may take. */
const RESUME_ATTEMPT_MS = 3_000;
/**
 * A connection that settled on TCP (a TURN relay over TCP or TLS, or ICE over TCP) while
 * UDP may work — it lost a race at the start, or a check failed once, and the browser never
 * tries a failed pair again — is offered UDP again by an ICE restart after these waits, then
 * after the last one each time, for as long as it stays on TCP. Media keeps flowing on the
 * old path until a new one is chosen; where only TCP works, the restart lands on TCP again.
 */
const UDP_RETRY_DELAYS_MS = [10_000, 30_000, 120_000];
/** Tile sizes go to the SFU at most this often (resizes come in bursts). */
const TILE_SIZE_INTERVAL_MS = 250;

export type JoinResult = CommandResult<"join">;

/** What the session tells its Call. Server events arrive already parsed (sfu/protocol.ts). */
export interface SessionHandlers {
  event<K extends EventName>(name: K, payload: EventPayload<K>): void;
  tracks(tracks: ReceivedTracks): void;
  /** The signaling socket died; the session is moving to a new one (`resumed` or `lost` follows). */
  reconnecting(): void;
  /** The session moved to a new signaling socket; events meanwhile may be lost: this is now. */
  resumed(state: JoinResult): void;
  lost(reason: string): void;
}

const FORWARDED_EVENTS = [
  "participantJoined",
  "participantLeft",
  "trackPublished",
  "trackUnpublished",
  "trackMuted",
  "activeSpeaker",
] as const satisfies readonly EventName[];

export class CallSession {
  readonly publisher: Publisher;
  private readonly subscriber: Subscriber;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly tileSizes = new Map<string, { width: number; height: number }>();
  private readonly sentSizes = new Map<string, string>();
  private tileTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly recovering = new Map<RTCPeerConnection, MediaRecovery>();
  private readonly udpRetries = new Map<RTCPeerConnection, UdpRetry>();
  /** Who this session is on the SFU, to `resume` it on a new socket. */
  private identity: { peerId: string; token: string } | undefined;
  private resuming: Promise<void> | undefined;
  private ended = false;

  /** Fetches a ticket, connects and joins; rejects (and cleans up) if any step fails. */
  static async open(
    slug: string,
    handlers: SessionHandlers,
  ): Promise<{ session: CallSession; joined: JoinResult }> {
    const ticket = await fetchCallTicket(slug);
    const signaling = new SignalingClient({
      url: window.location.origin,
      path: ticket.signalingPath,
    });
    const session = new CallSession(signaling, ticket, handlers);
    try {
      await signaling.connected();
      const joined = await signaling.request("join", {
        token: ticket.token,
        roomId: ticket.roomId,
      });
      session.identity = { peerId: joined.self.peerId, token: joined.resumeToken };
      session.watch();
      return { session, joined };
    } catch (err) {
      session.close();
      throw err;
    }
  }

  private constructor(
    readonly signaling: SignalingClient,
    ice: IceSettings,
    private readonly handlers: SessionHandlers,
  ) {
    this.publisher = new Publisher(signaling, ice);
    this.subscriber = new Subscriber(
      signaling,
      ice,
      (tracks) => {
        handlers.tracks(tracks);
        this.scheduleTileSizes();
      },
      (err) => this.lose(`subscribe connection: ${String(err)}`),
    );
    // Listen before `join`: the first subscribe offer may follow its answer immediately.
    this.unsubscribe.push(
      signaling.on("subscribeOffer", (offer) => this.subscriber.handleOffer(offer)),
    );
    for (const name of FORWARDED_EVENTS) {
      this.unsubscribe.push(
        signaling.on(name, (payload: EventPayload<typeof name>) => handlers.event(name, payload)),
      );
    }
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Remembers the size a received video is shown at and tells the SFU (coalesced). */
  setTileSize(trackId: string, width: number, height: number): void {
    this.tileSizes.set(trackId, { width: Math.round(width), height: Math.round(height) });
    this.scheduleTileSizes();
  }

  forgetTile(trackId: string): void {
    this.tileSizes.delete(trackId);
    this.sentSizes.delete(trackId);
  }

  /** The subscribe connection's statistics: everything received (call quality, quality.ts). */
  receivedStats(): Promise<RTCStatsReport> {
    return this.subscriber.pc.getStats();
  }

  /** Leaves politely (the SFU frees everything at once), then closes. */
  async leave(): Promise<void> {
    if (this.ended) return;
    const ack = this.signaling.socket.connected
      ? this.signaling.request("leave", {}).catch(() => undefined)
      : Promise.resolve();
    // A slow SFU must not hold the person in the call: closing the socket frees it too.
    await Promise.race([ack, new Promise((resolve) => setTimeout(resolve, 1_000))]);
    this.close();
  }

  /** Drops everything at once, without telling the SFU (its socket closing tells it). */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.tileTimer);
    for (const recovery of this.recovering.values()) recovery.stop();
    this.recovering.clear();
    for (const retry of this.udpRetries.values()) retry.stop();
    this.udpRetries.clear();
    for (const off of this.unsubscribe.splice(0)) off();
    this.publisher.close();
    this.subscriber.close();
    this.signaling.close();
  }

  private watch(): void {
    this.unsubscribe.push(
      this.signaling.onDisconnect((reason) => {
        // The SFU ended the session, or we closed it: nothing to resume.
        if (reason === "io server disconnect" || reason === "io client disconnect")
          this.lose(`signaling ${reason}`);
        else void this.resumeSignaling(reason);
      }),
    );
    this.unsubscribe.push(
      this.signaling.on("closed", ({ reason }) => this.lose(`closed by the SFU: ${reason}`)),
    );
    // The path that broke the media may have broken the signaling socket too (a new
    // address): check it with a round trip before asking the SFU anything.
    const connections = [
      {
        pc: this.publisher.pc,
        restart: async () => {
          await this.checkSignaling();
          await this.publisher.restartIce();
        },
      },
      {
        pc: this.subscriber.pc,
        restart: async () => {
          await this.checkSignaling();
          await this.subscriber.restartIce();
        },
      },
    ];
    for (const { pc, restart } of connections) {
      const onState = () => {
        const state = pc.connectionState;
        if (state === "connected") {
          this.recovering.get(pc)?.stop();
          this.recovering.delete(pc);
          if (!this.udpRetries.has(pc)) {
            const retry = new UdpRetry(pc, restart, () => this.udpRetries.delete(pc));
            this.udpRetries.set(pc, retry);
            retry.start();
          }
        } else if (state === "disconnected" || state === "failed") {
          // Getting the connection back comes first; a path on TCP is looked at once it is.
          this.udpRetries.get(pc)?.stop();
          this.udpRetries.delete(pc);
        }
        if ((state === "disconnected" || state === "failed") && !this.recovering.has(pc)) {
          const recovery = new MediaRecovery(pc, restart, () => this.lose("media connection lost"));
          this.recovering.set(pc, recovery);
          recovery.start(state === "failed" ? 0 : DISCONNECTED_GRACE_MS);
        }
      };
      pc.addEventListener("connectionstatechange", onState);
      this.unsubscribe.push(() => pc.removeEventListener("connectionstatechange", onState));
    }
  }

  /** Resumes on a new socket unless the current one answers a round trip in time. */
  private async checkSignaling(): Promise<void> {
    if (this.resuming) return this.resuming;
    try {
      await this.signaling.request("ping", {}, SIGNALING_CHECK_MS);
    } catch {
      await this.resumeSignaling("no answer from the SFU");
    }
  }

  /**
   * Moves the session to a new signaling socket (`resume`): the SFU keeps the peer, its
   * connections and tracks, so nobody sees a rejoin. Tried every second until it works, the
   * SFU says the session has ended (then the Call rejoins), or 30 s pass.
   */
  private resumeSignaling(reason: string): Promise<void> {
    this.resuming ??= (async () => {
      console.warn(`[call] signaling lost (${reason}); resuming on a new socket`);
      this.handlers.reconnecting();
      const deadline = Date.now() + RECONNECT_TIMEOUT_MS;
      while (!this.ended && Date.now() < deadline) {
        try {
          await withTimeout(this.signaling.reconnect(), RESUME_ATTEMPT_MS);
          const state = await this.signaling.request("resume", this.identity!, RESUME_ATTEMPT_MS);
          this.identity = { peerId: state.self.peerId, token: state.resumeToken };
          if (!this.ended) this.handlers.resumed(state);
          return;
        } catch (err) {
          if (err instanceof CommandError && err.code === "unknown_session") break;
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
      }
      this.lose(`signaling ${reason}, and the session could not be resumed`);
    })().finally(() => (this.resuming = undefined));
    return this.resuming;
  }

  private lose(reason: string): void {
    if (this.ended) return;
    this.close();
    this.handlers.lost(reason);
  }

  private scheduleTileSizes(): void {
    if (this.tileTimer !== undefined || this.ended) return;
    this.tileTimer = setTimeout(() => {
      this.tileTimer = undefined;
      this.sendTileSizes();
    }, TILE_SIZE_INTERVAL_MS);
  }

  private sendTileSizes(): void {
    for (const [trackId, { width, height }] of this.tileSizes) {
      // The SFU knows the track once it has offered it; until then the size waits here.
      if (!this.subscriber.has(trackId)) continue;
      const key = `${width}x${height}`;
      if (this.sentSizes.get(trackId) === key) continue;
      this.sentSizes.set(trackId, key);
      this.signaling.request("setTileSize", { trackId, width, height }).catch(() => {
        // The track went away meanwhile; nothing to size.
        this.sentSizes.delete(trackId);
      });
    }
  }
}

/**
 * Brings one media connection back after it dropped: an ICE restart after a short grace
 * (a blip often heals by itself), again every {@link ICE_RESTART_INTERVAL_MS} while it stays
 * down, and `giveUp` once it has been down for {@link RECONNECT_TIMEOUT_MS}.
 */
class MediaRecovery {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private deadline: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly pc: RTCPeerConnection,
    private readonly restart: () => Promise<void>,
    private readonly giveUp: () => void,
  ) {}

  start(graceMs: number): void {
    this.deadline = setTimeout(this.giveUp, RECONNECT_TIMEOUT_MS);
    this.schedule(graceMs);
  }

  stop(): void {
    clearTimeout(this.timer);
    clearTimeout(this.deadline);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      if (this.pc.connectionState === "connected" || this.pc.connectionState === "closed") return;
      console.warn(`[call] media connection ${this.pc.connectionState}; restarting ICE`);
      // A restart that fails (signaling down too) is retried; the deadline still holds.
      this.restart().catch((err: unknown) =>
        console.warn(`[call] ICE restart failed: ${String(err)}`),
      );
      this.schedule(ICE_RESTART_INTERVAL_MS);
    }, delayMs);
  }
}

/**
 * Offers a connection that settled on TCP a UDP path again (see {@link UDP_RETRY_DELAYS_MS}):
 * looks at the path it uses after each wait and restarts ICE while it is TCP; done (`onDone`)
 * once it is UDP.
 */
class UdpRetry {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private restarts = 0;
  private stopped = false;

  constructor(
    private readonly pc: RTCPeerConnection,
    private readonly restart: () => Promise<void>,
    private readonly onDone: () => void,
  ) {}

  start(): void {
    const delays = UDP_RETRY_DELAYS_MS;
    this.timer = setTimeout(
      () => void this.check(),
      delays[Math.min(this.restarts, delays.length - 1)],
    );
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async check(): Promise<void> {
    if (this.stopped || this.pc.connectionState !== "connected") return;
    const overTcp = pathOverTcp(await this.pc.getStats().catch(() => new Map()));
    if (this.stopped) return;
    if (overTcp === false) {
      this.onDone();
      return;
    }
    if (overTcp) {
      this.restarts += 1;
      console.info("[call] media connection is on TCP; restarting ICE to look for a UDP path");
      this.restart().catch((err: unknown) =>
        console.warn(`[call] ICE restart failed: ${String(err)}`),
      );
    }
    this.start();
  }
}

/** Rejects after `ms` unless `promise` settles first. */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
