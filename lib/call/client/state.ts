/**
 * What the call looks like to the person, as one immutable snapshot (React reads it with
 * useSyncExternalStore), and the pure functions that apply the SFU's events to it.
 */
import type { EventPayload, Participant, TrackInfo, TrackSource } from "@/sfu/protocol";
import type { DeviceList, MediaProblem } from "./local-media";
import type { ReceivedTracks } from "./subscriber";

/**
 * idle: not in the call. joining: connecting for the first time. joined: in the call.
 * reconnecting: the connection dropped; a new session is being opened.
 */
export type CallStatus = "idle" | "joining" | "joined" | "reconnecting";

export interface RemoteTrack extends TrackInfo {
  /** The received track, once the SFU's offer carrying it has been applied. */
  track: MediaStreamTrack | null;
}

export interface RemoteParticipant extends Participant {
  tracks: RemoteTrack[];
}

/** One of your own devices: whether it is on, and its track while it is. */
export interface LocalDevice {
  on: boolean;
  track: MediaStreamTrack | null;
}

export interface CallSnapshot {
  status: CallStatus;
  /** The pre-join preview is showing your camera and microphone. */
  previewing: boolean;
  microphone: LocalDevice;
  camera: LocalDevice;
  screen: LocalDevice;
  /** Everyone else in the call, in the order they came. */
  participants: RemoteParticipant[];
  /** Your own peer id in this session (the SFU names you with it in activeSpeaker). */
  selfPeerId: string | null;
  activeSpeaker: string | null;
  /** Devices that could not be used, shown as alerts until dismissed. */
  problems: MediaProblem[];
  /** Why joining failed, when it did. */
  error: string | null;
  devices: DeviceList;
  chosen: { microphone: string | null; camera: string | null; speaker: string | null };
}

export const initialSnapshot: CallSnapshot = {
  status: "idle",
  previewing: false,
  microphone: { on: true, track: null },
  camera: { on: true, track: null },
  screen: { on: false, track: null },
  participants: [],
  selfPeerId: null,
  activeSpeaker: null,
  problems: [],
  error: null,
  devices: { microphones: [], cameras: [], speakers: [] },
  chosen: { microphone: null, camera: null, speaker: null },
};

/** The participants as `join` answered, each with the tracks they already publish. */
export function participantsFromJoin(
  participants: Participant[],
  tracks: TrackInfo[],
  received: ReceivedTracks,
): RemoteParticipant[] {
  return participants.map((p) => ({
    ...p,
    tracks: tracks
      .filter((t) => t.peerId === p.peerId)
      .map((t) => ({ ...t, track: received.get(t.trackId) ?? null })),
  }));
}

type ParticipantEvent =
  | { name: "participantJoined"; payload: EventPayload<"participantJoined"> }
  | { name: "participantLeft"; payload: EventPayload<"participantLeft"> }
  | { name: "trackPublished"; payload: EventPayload<"trackPublished"> }
  | { name: "trackUnpublished"; payload: EventPayload<"trackUnpublished"> }
  | { name: "trackMuted"; payload: EventPayload<"trackMuted"> };

/** Applies one SFU event about participants or their tracks. */
export function applyEvent(
  participants: RemoteParticipant[],
  event: ParticipantEvent,
  received: ReceivedTracks,
): RemoteParticipant[] {
  switch (event.name) {
    case "participantJoined": {
      const { participant } = event.payload;
      if (participants.some((p) => p.peerId === participant.peerId)) return participants;
      return [...participants, { ...participant, tracks: [] }];
    }
    case "participantLeft":
      return participants.filter((p) => p.peerId !== event.payload.peerId);
    case "trackPublished": {
      const { track } = event.payload;
      return participants.map((p) =>
        p.peerId !== track.peerId
          ? p
          : {
              ...p,
              tracks: [
                ...p.tracks.filter((t) => t.trackId !== track.trackId),
                { ...track, track: received.get(track.trackId) ?? null },
              ],
            },
      );
    }
    case "trackUnpublished":
      return mapTracks(participants, (tracks) =>
        tracks.filter((t) => t.trackId !== event.payload.trackId),
      );
    case "trackMuted":
      return mapTracks(participants, (tracks) =>
        tracks.map((t) =>
          t.trackId === event.payload.trackId ? { ...t, muted: event.payload.muted } : t,
        ),
      );
  }
}

/** Attaches newly received tracks to the participants' track entries. */
export function attachReceived(
  participants: RemoteParticipant[],
  received: ReceivedTracks,
): RemoteParticipant[] {
  return mapTracks(participants, (tracks) =>
    tracks.map((t) => {
      const track = received.get(t.trackId) ?? null;
      return track === t.track ? t : { ...t, track };
    }),
  );
}

export function trackOf(
  participant: RemoteParticipant,
  source: TrackSource,
): RemoteTrack | undefined {
  return participant.tracks.find((t) => t.source === source);
}

function mapTracks(
  participants: RemoteParticipant[],
  change: (tracks: RemoteTrack[]) => RemoteTrack[],
): RemoteParticipant[] {
  let changed = false;
  const next = participants.map((p) => {
    const tracks = change(p.tracks);
    const same = tracks.length === p.tracks.length && tracks.every((t, i) => t === p.tracks[i]);
    if (same) return p;
    changed = true;
    return { ...p, tracks };
  });
  return changed ? next : participants;
}

/** Whether your microphone is on and sending (the `Microphone` toggles show this). */
export function microphoneOn(state: CallSnapshot): boolean {
  return state.microphone.on && state.microphone.track !== null;
}

/** Whether your camera is sending. */
export function cameraOn(state: CallSnapshot): boolean {
  return state.camera.track !== null;
}

/** Whether you are sharing your screen. */
export function sharingScreen(state: CallSnapshot): boolean {
  return state.screen.track !== null;
}
