"use client";

import { useRef } from "react";
import type { Call } from "@/lib/call/client/call";
import { useMediaTrack, useTileSize } from "@/lib/call/client/hooks";
import type { StatsSample } from "@/lib/call/client/quality";
import { Icon } from "./icons";
import { TileQuality } from "./QualityIndicator";
import styles from "./Call.module.css";

export interface TileProps {
  call: Call;
  /** The accessible name: the participant's display name, `You`, or `… (screen)`. */
  name: string;
  /** Shown on the name plate (the display name, even on your own tile). */
  caption: string;
  kind: "camera" | "screen";
  video: MediaStreamTrack | null;
  /** The SFU's id of a received video, to report the tile's size; none for your own. */
  videoTrackId?: string;
  /** Whether video is coming (a camera switched off shows the initials instead). */
  videoOn: boolean;
  /**
   * Received sound (microphone or screen audio); never your own. It plays in the shell's
   * CallAudio, which outlives the tiles; the tile names it (`data-audio-track`) and shows
   * its quality.
   */
  audio?: MediaStreamTrack | null;
  micMuted?: boolean;
  speaking?: boolean;
  mirrored?: boolean;
  /** The call's received stats, for a remote tile's connection quality; none on your own. */
  stats?: StatsSample[];
}

/** One video tile: a `group` named for whom it shows, holding its `video`. */
export function Tile(props: TileProps) {
  const videoRef = useRef<HTMLVideoElement>(null);
  useMediaTrack(videoRef, props.video);
  useTileSize(props.call, props.videoOn ? props.videoTrackId : undefined, videoRef);

  const classes = [
    styles.tile,
    props.kind === "screen" ? styles.screenTile : "",
    props.speaking ? styles.speaking : "",
  ].join(" ");

  return (
    <div
      role="group"
      aria-label={props.name}
      className={classes}
      data-speaking={props.speaking || undefined}
      data-audio-track={props.audio?.id}
    >
      <video
        ref={videoRef}
        className={`${styles.video} ${props.mirrored ? styles.mirrored : ""}`}
        autoPlay
        playsInline
        // Sound plays through the shell's CallAudio (and never your own).
        muted
        hidden={!props.videoOn}
      />
      {!props.videoOn && (
        <div className={styles.avatar} aria-hidden="true">
          <span>{initials(props.caption)}</span>
        </div>
      )}
      {props.stats && (
        <TileQuality
          name={props.name}
          samples={props.stats}
          tracks={[props.video, props.audio]}
          mediaExpected={props.videoOn || props.micMuted === false}
        />
      )}
      <div className={styles.nameplate}>
        {props.micMuted && (
          <span
            className={styles.mutedBadge}
            role="img"
            aria-label="Microphone off"
            title="Microphone off"
          >
            <Icon name="micOff" size={14} />
          </span>
        )}
        <span className={styles.caption}>{props.caption}</span>
      </div>
    </div>
  );
}

function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0]![0], words[words.length - 1]![0]] : [name.trim()[0]];
  return letters.join("").toUpperCase() || "?";
}
