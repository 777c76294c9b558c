"use client";

import type { Call } from "@/lib/call/client/call";
import { useReceivedStats } from "@/lib/call/client/hooks";
import { type CallSnapshot, cameraOn, microphoneOn, trackOf } from "@/lib/call/client/state";
import { Tile, type TileProps } from "./Tile";
import styles from "./Call.module.css";

type TileSpec = Omit<TileProps, "call"> & { key: string };

/**
 * The tiles of the call: a grid of cameras, or — while someone else shares a screen — that
 * screen large (spotlight) with the cameras beside it (below it on narrow screens).
 */
export function CallStage({
  call,
  state,
  meName,
}: {
  call: Call;
  state: CallSnapshot;
  meName: string;
}) {
  // Sampled only while in the call; every remote tile reads its own tracks from it.
  const stats = useReceivedStats(call, state.status === "joined");
  const cameras: TileSpec[] = [];
  const screens: TileSpec[] = [];
  const micOn = microphoneOn(state);

  cameras.push({
    key: "self",
    name: "You",
    caption: `${meName} (you)`,
    kind: "camera",
    video: state.camera.track,
    videoOn: cameraOn(state),
    micMuted: !micOn,
    speaking: state.selfPeerId !== null && state.activeSpeaker === state.selfPeerId,
    mirrored: true,
  });
  for (const p of state.participants) {
    const camera = trackOf(p, "camera");
    const mic = trackOf(p, "mic");
    cameras.push({
      key: p.peerId,
      name: p.displayName,
      caption: p.displayName,
      kind: "camera",
      video: camera?.track ?? null,
      videoTrackId: camera?.trackId,
      videoOn: camera !== undefined && !camera.muted && camera.track !== null,
      audio: mic?.track ?? null,
      micMuted: !mic || mic.muted,
      speaking: state.activeSpeaker === p.peerId,
      stats,
    });
    const screen = trackOf(p, "screen");
    if (screen) {
      screens.push({
        key: `${p.peerId}:screen`,
        name: `${p.displayName} (screen)`,
        caption: `${p.displayName}'s screen`,
        kind: "screen",
        video: screen.track,
        videoTrackId: screen.trackId,
        videoOn: screen.track !== null,
        audio: trackOf(p, "screen-audio")?.track ?? null,
        stats,
      });
    }
  }
  // Your own screen is a tile among the others: seeing it large would only mirror it.
  const ownScreen: TileSpec | null = state.screen.track
    ? {
        key: "self:screen",
        name: "You (screen)",
        caption: "Your screen",
        kind: "screen",
        video: state.screen.track,
        videoOn: true,
      }
    : null;

  const render = ({ key, ...spec }: TileSpec) => <Tile key={key} call={call} {...spec} />;

  const [spotlight, ...otherScreens] = screens;
  if (spotlight) {
    const side = [...otherScreens, ...(ownScreen ? [ownScreen] : []), ...cameras];
    return (
      <div className={styles.spotlight}>
        <div className={styles.spotlightMain}>{render(spotlight)}</div>
        <div className={styles.strip}>{side.map(render)}</div>
      </div>
    );
  }
  const tiles = ownScreen ? [ownScreen, ...cameras] : cameras;
  const cols = columns(tiles.length);
  const narrow = Math.min(2, cols);
  const layout = {
    "--cols": cols,
    "--rows": Math.ceil(tiles.length / cols),
    "--cols-narrow": narrow,
    "--rows-narrow": Math.ceil(tiles.length / narrow),
  } as React.CSSProperties;
  return (
    <div className={styles.grid} style={layout}>
      {tiles.map(render)}
    </div>
  );
}

function columns(count: number): number {
  if (count <= 1) return 1;
  if (count <= 4) return 2;
  if (count <= 9) return 3;
  if (count <= 16) return 4;
  return 5;
}
