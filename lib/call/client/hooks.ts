"use client";

/**
 * Thin React hooks over the framework-free call client. Each effect adds its listeners
 * and removes them in its own cleanup.
 */
import { type RefObject, useEffect, useMemo, useState, useSyncExternalStore } from "react";
import { command, getSocket } from "@/lib/realtime/client";
import type { Participant } from "@/lib/realtime/protocol";
import { Call } from "./call";
import { type CallSnapshot, initialSnapshot } from "./state";

/**
 * The room's call and its current snapshot. The Call lives as long as the component (one
 * per room): unmounting leaves the call and releases every device.
 *
 * @returns `call` for actions, `state` to render.
 */
export function useCall(room: { roomId: string; slug: string }): {
  call: Call;
  state: CallSnapshot;
} {
  const { roomId, slug } = room;
  // The constructor has no side effects; the effect below attaches and disposes.
  const call = useMemo(() => new Call({ roomId, slug }), [roomId, slug]);
  useEffect(() => {
    const detach = call.attach();
    return () => {
      detach();
      call.dispose();
    };
  }, [call]);
  const state = useSyncExternalStore(call.subscribe, call.getSnapshot, initialState);
  return { call, state };
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
