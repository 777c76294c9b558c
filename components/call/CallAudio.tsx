"use client";

import { useRef } from "react";
import { useMediaTrack, useSpeaker } from "@/lib/call/client/hooks";
import { type CallSnapshot, trackOf } from "@/lib/call/client/state";

/**
 * The sound of the call you are in: one `audio` element per received microphone and screen
 * audio, kept by the shell (CallHostProvider) rather than by the tiles, so you go on hearing
 * everyone while you read another room. Each is named by its track (`data-track`), which
 * its tile names too (`data-audio-track`).
 */
export function CallAudio({ state }: { state: CallSnapshot }) {
  const tracks = state.participants.flatMap((p) =>
    (["mic", "screen-audio"] as const).flatMap((source) => {
      const track = trackOf(p, source)?.track;
      return track ? [track] : [];
    }),
  );
  return (
    <div hidden>
      {tracks.map((track) => (
        <RemoteAudio key={track.id} track={track} speakerId={state.chosen.speaker} />
      ))}
    </div>
  );
}

function RemoteAudio({ track, speakerId }: { track: MediaStreamTrack; speakerId: string | null }) {
  const ref = useRef<HTMLAudioElement>(null);
  useMediaTrack(ref, track);
  useSpeaker(ref, speakerId);
  return <audio ref={ref} autoPlay data-track={track.id} />;
}
