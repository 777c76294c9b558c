"use client";

/**
 * Thin React hooks over the framework-free call client. Each effect adds its listeners
 * and removes them in its own cleanup. The calls themselves belong to the shell's
 * CallHost (host.ts), not to the components that show them.
 */
import {
  createContext,
  type RefObject,
  useContext,
  useEffect,
  useMemo,
  useState,
  useSyncExternalStore,
} from "react";
import { command, getSocket } from "@/lib/realtime/client";
import type { Participant } from "@/lib/realtime/protocol";
import type { Call } from "./call";
import type { CallHost } from "./host";
import {
  appendSample,
  type Quality,
  type QualityPoint,
  qualityOf,
  sampleFromReport,
  type StatsSample,
  tilePoints,
} from "./quality";
import { type CallSnapshot, initialSnapshot } from "./state";

/** The shell's CallHost (lib/call/client/host.ts), given by `CallHostProvider`. */
export const CallHostContext = createContext<CallHost | null>(null);

export function useCallHost(): CallHost {
  const host = useContext(CallHostContext);
  if (!host) throw new Error("calls need the signed-in shell's CallHostProvider");
  return host;
}

/** The call you are in (any room), or null: it outlives the room page (host.ts). */
export function useActiveCall(): { call: Call; state: CallSnapshot } | null {
  const host = useCallHost();
  const call = useSyncExternalStore(host.subscribe, host.getActive, noCall);
  const state = useSyncExternalStore(
    call?.subscribe ?? noSubscription,
    call?.getSnapshot ?? initialState,
    initialState,
  );
  return call ? { call, state } : null;
}

const noCall = () => null;
const noSubscription = () => () => undefined;

/**
 * The room's call and its current snapshot, for the room page: the call you are in if it
 * is this room's, else an idle one for the lobby and preview. The shell's host owns it, so
 * leaving the page keeps a call you joined and releases one you only previewed.
 *
 * @returns `call` for actions, `state` to render, `join` to join it (leaving another
 *   room's call first).
 */
export function useCall(room: { roomId: string; slug: string }): {
  call: Call;
  state: CallSnapshot;
  join(): void;
} {
  const { roomId, slug } = room;
  const host = useCallHost();
  // callFor has no side effects; the effect below holds the call and gives it back.
  const call = useMemo(() => host.callFor({ roomId, slug }), [host, roomId, slug]);
  useEffect(() => host.hold(call), [host, call]);
  const state = useSyncExternalStore(call.subscribe, call.getSnapshot, initialState);
  return { call, state, join: () => host.join(call) };
}

const initialState = () => initialSnapshot;

/**
 * Who is in the room's call now (distinct people, any device), kept live by the web node's
 * `call.roster` event and asked for again after every reconnect. Works without joining.
 *
 * @returns the participants, or null until the server has answered.
 */
export function useCallRoster(roomId: string): Participant[] | null {
  // null until the server has answered: "nobody" is not known yet.
  const [participants, setParticipants] = useState<Participant[] | null>(null);
  useEffect(() => {
    const socket = getSocket();
    let live = true;
    const ask = () => {
      command("call.roster", { roomId }).then(
        (roster) => live && setParticipants(roster.participants),
        () => undefined, // offline or refused: the next connect asks again
      );
    };
    const onRoster = (roster: { roomId: string; participants: Participant[] }) => {
      if (roster.roomId === roomId) setParticipants(roster.participants);
    };
    socket.on("call.roster", onRoster);
    socket.on("connect", ask);
    if (socket.connected) ask();
    return () => {
      live = false;
      socket.off("call.roster", onRoster);
      socket.off("connect", ask);
    };
  }, [roomId]);
  return participants;
}

/**
 * Reports the size a received video is drawn at (device pixels) to the SFU while the
 * element is mounted, so it forwards the simulcast layer that fits the tile.
 */
export function useTileSize(
  call: Call,
  trackId: string | undefined,
  ref: RefObject<HTMLElement | null>,
): void {
  useEffect(() => {
    const element = ref.current;
    if (!trackId || !element) return;
    const report = () => {
      const ratio = window.devicePixelRatio || 1;
      const visible = document.visibilityState === "visible";
      call.setTileSize(
        trackId,
        visible ? element.clientWidth * ratio : 0,
        visible ? element.clientHeight * ratio : 0,
      );
    };
    const observer = new ResizeObserver(report);
    observer.observe(element);
    // A hidden tab shows nothing: the SFU may send the least until it is back.
    document.addEventListener("visibilitychange", report);
    report();
    return () => {
      observer.disconnect();
      document.removeEventListener("visibilitychange", report);
      call.forgetTile(trackId);
    };
  }, [call, trackId, ref]);
}

/** Plays `track` in a media element (or clears it): the elements outlive track changes. */
export function useMediaTrack(
  ref: RefObject<HTMLMediaElement | null>,
  track: MediaStreamTrack | null,
): void {
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    element.srcObject = track ? new MediaStream([track]) : null;
    if (track) {
      element.play().catch(() => {
        // Autoplay refused before any click on the page; the next gesture's render retries.
      });
    }
  }, [ref, track]);
}

/** Routes a media element's sound to the chosen speaker where the browser can. */
export function useSpeaker(ref: RefObject<HTMLMediaElement | null>, deviceId: string | null): void {
  useEffect(() => {
    const element = ref.current as
      (HTMLMediaElement & { setSinkId?: (id: string) => Promise<void> }) | null;
    if (!element?.setSinkId || deviceId === null) return;
    element
      .setSinkId(deviceId)
      .catch((err: unknown) => console.warn(`[call] speaker: ${String(err)}`));
  }, [ref, deviceId]);
}

/** A 0–1 loudness of an audio track, updated a few times a second (the preview's meter). */
export function useAudioLevel(track: MediaStreamTrack | null): number {
  const [level, setLevel] = useState(0);
  useEffect(() => {
    if (!track) return;
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    const source = context.createMediaStreamSource(new MediaStream([track]));
    source.connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const timer = setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += s * s;
      setLevel(Math.min(1, Math.sqrt(sum / samples.length) * 4));
    }, 150);
    return () => {
      clearInterval(timer);
      source.disconnect();
      void context.close();
    };
  }, [track]);
  return track ? level : 0;
}

/** How often the call's received stats are sampled for the quality of its tiles. */
const STATS_INTERVAL_MS = 1_000;
const NO_SAMPLES: StatsSample[] = [];

/**
 * The last minute of the subscribe connection's stats, one sample a second, taken only
 * while `active` (in the call): one `getStats()` for every tile. Empty when not in a call.
 */
export function useReceivedStats(call: Call, active: boolean): StatsSample[] {
  const [samples, setSamples] = useState<StatsSample[]>(NO_SAMPLES);
  useEffect(() => {
    if (!active) return;
    let live = true;
    let asking = false;
    const timer = setInterval(() => {
      const stats = call.receivedStats();
      // Between sessions there is nothing to ask; a slow answer is not asked again over.
      if (!stats || asking) return;
      asking = true;
      stats
        .then(
          (report) =>
            live && setSamples((s) => appendSample(s, sampleFromReport(report, Date.now()))),
          () => undefined, // the connection closed meanwhile; the next session's samples follow
        )
        .finally(() => {
          asking = false;
        });
    }, STATS_INTERVAL_MS);
    return () => {
      live = false;
      clearInterval(timer);
      setSamples(NO_SAMPLES);
    };
  }, [call, active]);
  return samples;
}

/**
 * One tile's points and quality level from the call's samples and the tile's received
 * tracks. `mediaExpected` (camera on or microphone unmuted) is remembered with the time it
 * last changed, so silence from before is not taken for a dead link.
 */
export function useTileQuality(
  samples: StatsSample[],
  tracks: readonly (MediaStreamTrack | null | undefined)[],
  mediaExpected: boolean,
): { points: QualityPoint[]; quality: Quality | null } {
  const now = samples.at(-1)?.at ?? 0;
  const [expected, setExpected] = useState({ on: mediaExpected, since: now });
  if (expected.on !== mediaExpected) setExpected({ on: mediaExpected, since: now });
  const key = tracks.map((t) => t?.id ?? "").join(" ");
  const points = useMemo(() => tilePoints(samples, key.split(" ").filter(Boolean)), [samples, key]);
  return { points, quality: qualityOf(points, expected.on ? expected.since : null) };
}
