/**
 * The call as one person experiences it: their own microphone, camera and screen, the
 * pre-join preview, joining and leaving, and staying in the call through dropped networks
 * and SFU restarts by opening a new session. Framework-free: React reads it through
 * `subscribe`/`getSnapshot` (hooks.ts). Design: docs/calls.md.
 */
import { getSocket, type RealtimeTransport, sendCommand } from "@/lib/realtime/client";
import type { EventName, EventPayload } from "@/sfu/protocol";
import {
  listDevices,
  type MediaProblem,
  mediaProblem,
  openDevices,
  openScreen,
} from "./local-media";
import { CallSession, type JoinResult, type SessionHandlers } from "./session";
import type { Publisher, SourceWish } from "./publisher";
import {
  applyEvent,
  attachReceived,
  type CallSnapshot,
  initialSnapshot,
  participantsFromJoin,
} from "./state";
import type { ReceivedTracks } from "./subscriber";
import { TicketError } from "./ticket";

/** Waits between attempts to (re)open a session: quick first, then every few seconds. */
const RETRY_DELAYS_MS = [250, 500, 1_000, 2_000, 3_000];
/** Losses closer together than this count as one streak. */
const LOSS_WINDOW_MS = 30_000;

/** What the Call uses of a session with the SFU (session.ts). */
export type CallSessionLike = Pick<
  CallSession,
  "closed" | "close" | "leave" | "setTileSize" | "forgetTile" | "receivedStats"
> & { readonly publisher: Pick<Publisher, "update"> };

/** Opens a session and joins (CallSession.open); rejects if it could not. */
export type OpenSession = (
  slug: string,
  handlers: SessionHandlers,
) => Promise<{ session: CallSessionLike; joined: JoinResult }>;

/** How the Call reaches the servers; each defaults to the real thing (tests pass fakes). */
export interface CallConnections {
  /** The web node's socket, for the room's roster (`call.join`/`call.leave`). */
  transport?: RealtimeTransport;
  /** Sessions with the SFU. */
  openSession?: OpenSession;
}

export class Call {
  private snapshot: CallSnapshot = initialSnapshot;
  private readonly listeners = new Set<() => void>();
  private session: CallSessionLike | null = null;
  private received: ReceivedTracks = new Map();
  /** The person asked to be in the call (and has not left): keep reconnecting. */
  private wantInCall = false;
  /**
   * This time in the call (one per Join), named in the room roster's `call.join` and
   * `call.leave`: the web node ignores a leave of an earlier one (call-handlers.ts).
   */
  private rosterSession: string | undefined;
  /** Bumped whenever sessions opened before must be ignored (leave, a new attempt). */
  private generation = 0;
  private screenAudio: MediaStreamTrack | null = null;
  /** Once a device has been sent in this call it stays published, muted when off. */
  private published = { microphone: false, camera: false };
  private wake: (() => void) | null = null;
  /** When recent sessions were lost, to slow down rejoining one that keeps failing. */
  private losses: number[] = [];
  private disposed = false;

  constructor(
    /** The room whose call this is. */
    readonly room: { roomId: string; slug: string },
    private readonly connections: CallConnections = {},
  ) {}

  /** Made while rendering, on the server too: the shared socket is only opened when used. */
  private get socket(): RealtimeTransport {
    return this.connections.transport ?? getSocket();
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): CallSnapshot => this.snapshot;

  /** Starts following the network, devices and the room's socket; returns the undo. */
  attach(): () => void {
    // React's strict mode disposes and attaches again; the Call is usable after that.
    this.disposed = false;
    const onOffline = () =>
      this.session && this.sessionLost(this.session, "the browser went offline");
    const onOnline = () => this.wake?.();
    const onDevices = () => void this.refreshDevices();
    const socket = this.socket;
    const onSocket = () => {
      if (this.wantInCall) this.tellRoster("call.join");
    };
    window.addEventListener("offline", onOffline);
    window.addEventListener("online", onOnline);
    navigator.mediaDevices?.addEventListener("devicechange", onDevices);
    socket.on("connect", onSocket);
    return () => {
      window.removeEventListener("offline", onOffline);
      window.removeEventListener("online", onOnline);
      navigator.mediaDevices?.removeEventListener("devicechange", onDevices);
      socket.off("connect", onSocket);
    };
  }

  /** Shows your camera and microphone before joining. */
  async startPreview(): Promise<void> {
    if (this.snapshot.previewing || this.snapshot.status !== "idle") return;
    this.set({ previewing: true });
    await this.openWanted();
  }

  stopPreview(): void {
    if (this.snapshot.status !== "idle") return;
    this.stopLocal();
    this.set({ previewing: false });
  }

  /** Joins the call: devices open while the session connects, then everything is sent. */
  join(): void {
    if (this.disposed || this.snapshot.status !== "idle") return;
    this.wantInCall = true;
    this.rosterSession = crypto.randomUUID();
    this.set({ status: "joining", error: null });
    void this.connect(this.openWanted());
  }

  /** Leaves: the SFU is told, every track and connection is closed. */
  async leave(): Promise<void> {
    if (!this.wantInCall) return;
    this.wantInCall = false;
    this.generation++;
    this.wake?.();
    const session = this.session;
    this.session = null;
    this.tellRoster("call.leave");
    this.stopLocal();
    this.published = { microphone: false, camera: false };
    this.set({
      status: "idle",
      previewing: false,
      participants: [],
      selfPeerId: null,
      activeSpeaker: null,
    });
    await session?.leave();
  }

  /** Leaves and stops listening for good (the room page goes away). */
  dispose(): void {
    this.disposed = true;
    void this.leave();
    this.stopLocal();
  }

  async setMicrophone(on: boolean): Promise<void> {
    const current = this.snapshot.microphone;
    if (on && !current.track) {
      const opened = await openDevices({
        microphone: this.snapshot.chosen.microphone ?? true,
        camera: false,
      });
      if (!opened.microphone) return this.report(opened.problems);
      this.clearProblem("microphone");
      this.set({ microphone: { on: true, track: this.keep(opened.microphone) } });
    } else {
      this.set({ microphone: { on, track: current.track } });
    }
    await this.publish();
  }

  async setCamera(on: boolean): Promise<void> {
    if (on) {
      if (this.snapshot.camera.track) return;
      const opened = await openDevices({
        microphone: false,
        camera: this.snapshot.chosen.camera ?? true,
      });
      if (!opened.camera) return this.report(opened.problems);
      this.clearProblem("camera");
      this.set({ camera: { on: true, track: this.keep(opened.camera) } });
    } else {
      // Off means off: the camera is released (its light goes out), not just unsent.
      this.snapshot.camera.track?.stop();
      this.set({ camera: { on: false, track: null } });
    }
    await this.publish();
  }

  async setScreenShare(on: boolean): Promise<void> {
    if (on) {
      if (this.snapshot.screen.track || this.snapshot.status === "idle") return;
      let screen: Awaited<ReturnType<typeof openScreen>>;
      try {
        screen = await openScreen();
      } catch (err) {
        return this.report([mediaProblem("screen", err)]);
      }
      if (!this.wantInCall) {
        screen.video.stop();
        screen.audio?.stop();
        return;
      }
      this.clearProblem("screen");
      // The browser's own "Stop sharing" ends the track.
      screen.video.addEventListener("ended", () => {
        if (this.snapshot.screen.track === screen.video) void this.setScreenShare(false);
      });
      this.screenAudio = screen.audio;
      this.set({ screen: { on: true, track: screen.video } });
    } else {
      this.snapshot.screen.track?.stop();
      this.screenAudio?.stop();
      this.screenAudio = null;
      this.set({ screen: { on: false, track: null } });
    }
    await this.publish();
  }

  /** Picks the device used for the microphone, camera or speaker; an open device switches now. */
  async chooseDevice(kind: "microphone" | "camera" | "speaker", deviceId: string): Promise<void> {
    this.set({ chosen: { ...this.snapshot.chosen, [kind]: deviceId } });
    if (kind === "speaker") return;
    const current = this.snapshot[kind];
    if (!current.track) return;
    const opened = await openDevices({
      microphone: kind === "microphone" ? deviceId : false,
      camera: kind === "camera" ? deviceId : false,
    });
    const track = opened[kind];
    if (!track) return this.report(opened.problems);
    current.track.stop();
    this.set({ [kind]: { on: current.on, track: this.keep(track) } });
    await this.publish();
  }

  /** The size a received video is shown at, so the SFU sends a layer that fits. */
  setTileSize(trackId: string, width: number, height: number): void {
    this.session?.setTileSize(trackId, width, height);
  }

  forgetTile(trackId: string): void {
    this.session?.forgetTile(trackId);
  }

  /** Statistics of what this call receives now; null between sessions (call quality). */
  receivedStats(): Promise<RTCStatsReport> | null {
    return this.session?.receivedStats() ?? null;
  }

  dismissProblem(device: MediaProblem["device"]): void {
    this.clearProblem(device);
  }

  // -------------------------------------------------------------------------------------

  private async connect(media?: Promise<void>): Promise<void> {
    const generation = ++this.generation;
    // A session that keeps dying right after joining must not become a tight loop.
    const now = Date.now();
    this.losses = this.losses.filter((at) => now - at < LOSS_WINDOW_MS);
    if (this.losses.length > 1) {
      await this.pause(
        RETRY_DELAYS_MS[Math.min(this.losses.length - 2, RETRY_DELAYS_MS.length - 1)]!,
      );
    }
    for (let attempt = 0; this.wantInCall && generation === this.generation; attempt++) {
      if (!navigator.onLine) {
        await this.pause(60_000);
        attempt = -1;
        continue;
      }
      this.received = new Map();
      let opened: Awaited<ReturnType<OpenSession>>;
      const open: OpenSession =
        this.connections.openSession ?? ((slug, handlers) => CallSession.open(slug, handlers));
      try {
        opened = await open(
          this.room.slug,
          this.handlers(() => generation === this.generation),
        );
      } catch (err) {
        if (err instanceof TicketError && !err.retryable) {
          this.wantInCall = false;
          this.stopLocal();
          this.set({ status: "idle", previewing: false, error: err.message });
          return;
        }
        console.warn(`[call] could not join (attempt ${attempt + 1}): ${String(err)}`);
        await this.pause(RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)]!);
        continue;
      }
      const { session, joined } = opened;
      if (!this.wantInCall || generation !== this.generation) {
        session.close();
        return;
      }
      if (session.closed) continue; // it died between joining and now: open another
      this.session = session;
      this.set({
        status: "joined",
        error: null,
        selfPeerId: joined.self.peerId,
        activeSpeaker: null,
        participants: participantsFromJoin(joined.participants, joined.tracks, this.received),
      });
      this.tellRoster("call.join");
      await media;
      await this.publish();
      return;
    }
  }

  private handlers(current: () => boolean) {
    return {
      event: <K extends EventName>(name: K, payload: EventPayload<K>) => {
        if (!current()) return;
        if (name === "activeSpeaker") {
          this.set({ activeSpeaker: (payload as EventPayload<"activeSpeaker">).peerId });
          return;
        }
        const event = { name, payload } as Parameters<typeof applyEvent>[1];
        this.set({ participants: applyEvent(this.snapshot.participants, event, this.received) });
      },
      tracks: (tracks: ReceivedTracks) => {
        if (!current()) return;
        this.received = tracks;
        this.set({ participants: attachReceived(this.snapshot.participants, tracks) });
      },
      reconnecting: () => {
        if (current()) this.set({ status: "reconnecting", activeSpeaker: null });
      },
      resumed: (state: JoinResult) => {
        // Events sent while the socket was down are lost; the SFU's answer is the state now.
        if (!current()) return;
        this.set({
          status: "joined",
          participants: participantsFromJoin(state.participants, state.tracks, this.received),
        });
      },
      lost: (reason: string) => {
        if (current() && this.session) this.sessionLost(this.session, reason);
      },
    };
  }

  private sessionLost(session: CallSessionLike, reason: string): void {
    if (session !== this.session) return;
    console.warn(`[call] connection lost (${reason}); rejoining`);
    this.session = null;
    this.losses.push(Date.now());
    session.close();
    if (!this.wantInCall) return;
    this.set({ status: "reconnecting", activeSpeaker: null });
    void this.connect();
  }

  /** Sends what the person has switched on; a failure ends the session (it rejoins). */
  private async publish(): Promise<void> {
    const session = this.session;
    if (!session) return;
    const s = this.snapshot;
    const wish = (publish: boolean, track: MediaStreamTrack | null): SourceWish => ({
      publish,
      track,
    });
    try {
      await session.publisher.update({
        mic: wish(this.published.microphone, s.microphone.on ? s.microphone.track : null),
        camera: wish(this.published.camera, s.camera.on ? s.camera.track : null),
        screen: wish(s.screen.track !== null, s.screen.track),
        "screen-audio": wish(this.screenAudio !== null, this.screenAudio),
      });
    } catch (err) {
      if (session === this.session) this.sessionLost(session, `publishing failed: ${String(err)}`);
    }
  }

  /** Opens the microphone and camera the person has on and does not have yet. */
  private async openWanted(): Promise<void> {
    const s = this.snapshot;
    const opened = await openDevices({
      microphone: s.microphone.on && !s.microphone.track ? (s.chosen.microphone ?? true) : false,
      camera: s.camera.on && !s.camera.track ? (s.chosen.camera ?? true) : false,
    });
    if (!this.snapshot.previewing && !this.wantInCall) {
      opened.microphone?.stop();
      opened.camera?.stop();
      return;
    }
    if (opened.microphone)
      this.set({ microphone: { on: true, track: this.keep(opened.microphone) } });
    else if (!this.snapshot.microphone.track) this.set({ microphone: { on: false, track: null } });
    if (opened.camera) this.set({ camera: { on: true, track: this.keep(opened.camera) } });
    else if (!this.snapshot.camera.track) this.set({ camera: { on: false, track: null } });
    this.report(opened.problems);
    await this.refreshDevices();
  }

  /** Notes a device as published from now on and returns its track. */
  private keep(track: MediaStreamTrack): MediaStreamTrack {
    if (this.wantInCall || this.snapshot.previewing) {
      if (track.kind === "audio") this.published.microphone = true;
      else this.published.camera = true;
    }
    return track;
  }

  private stopLocal(): void {
    const s = this.snapshot;
    for (const track of [s.microphone.track, s.camera.track, s.screen.track, this.screenAudio])
      track?.stop();
    this.screenAudio = null;
    this.set({
      microphone: { on: s.microphone.on, track: null },
      camera: { on: s.camera.on, track: null },
      screen: { on: false, track: null },
    });
  }

  private tellRoster(name: "call.join" | "call.leave"): void {
    const socket = this.socket;
    if (!socket.connected) return; // `connect` re-sends call.join
    sendCommand(socket, name, { roomId: this.room.roomId, session: this.rosterSession }).catch(
      (err: unknown) => console.warn(`[call] ${name} failed: ${String(err)}`),
    );
  }

  private async refreshDevices(): Promise<void> {
    try {
      this.set({ devices: await listDevices() });
    } catch {
      // Listing is a nicety; the default devices still work.
    }
  }

  private report(problems: MediaProblem[]): void {
    if (problems.length === 0) return;
    const devices = new Set(problems.map((p) => p.device));
    this.set({
      problems: [...this.snapshot.problems.filter((p) => !devices.has(p.device)), ...problems],
    });
  }

  private clearProblem(device: MediaProblem["device"]): void {
    if (this.snapshot.problems.some((p) => p.device === device)) {
      this.set({ problems: this.snapshot.problems.filter((p) => p.device !== device) });
    }
  }

  /** Waits `ms`, or less when woken (back online, leaving). */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  private set(patch: Partial<CallSnapshot>): void {
    this.snapshot = { ...this.snapshot, ...patch };
    for (const listener of this.listeners) listener();
  }
}
