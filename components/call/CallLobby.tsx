"use client";

import { useId } from "react";
import type { Call } from "@/lib/call/client/call";
import { useAudioLevel } from "@/lib/call/client/hooks";
import { type CallSnapshot, cameraOn, microphoneOn } from "@/lib/call/client/state";
import type { Participant } from "@/lib/realtime/protocol";
import { CallControls } from "./CallControls";
import { INSECURE_NOTICE_ID, SecureContextNotice, useSecureContext } from "./SecureContextNotice";
import { Tile } from "./Tile";
import styles from "./Call.module.css";

/** Before joining: who is in the call, an optional preview of your camera and mic, Join call. */
export function CallLobby(props: {
  call: Call;
  state: CallSnapshot;
  roster: Participant[] | null;
  meName: string;
  /** Joins through the shell's host (hooks.ts `useCall`). */
  onJoin(): void;
  /** The room of the call you are in elsewhere, which joining this one leaves. */
  leavingRoomName?: string;
}) {
  const { call, state, roster, leavingRoomName } = props;
  // One call at a time, as in Discord: joining here moves you out of the other.
  const moving = leavingRoomName ? `Leaves your call in ${leavingRoomName} first` : null;
  const movingId = useId();
  // On plain HTTP (other than localhost) the browser has no camera or microphone to give.
  const secure = useSecureContext();
  const level = useAudioLevel(
    state.previewing && state.microphone.on ? state.microphone.track : null,
  );

  return (
    <div className={styles.lobby}>
      <div className={styles.lobbyBar}>
        <div className={styles.lobbyInfo}>
          <span className={styles.title}>Call</span>
          <span className={styles.roster} aria-live="polite">
            {roster && <RosterFaces roster={roster} />}
            {roster && rosterText(roster)}
          </span>
        </div>
        <div className={styles.lobbyActions}>
          <button
            type="button"
            className="btn"
            disabled={!secure}
            aria-expanded={state.previewing}
            onClick={() => (state.previewing ? call.stopPreview() : void call.startPreview())}
          >
            {state.previewing ? "Hide preview" : "Check camera and mic"}
          </button>
          <button
            type="button"
            className="btn btn-primary"
            disabled={!secure || state.status !== "idle"}
            aria-describedby={!secure ? INSECURE_NOTICE_ID : moving ? movingId : undefined}
            title={moving ?? undefined}
            onClick={props.onJoin}
          >
            Join call
          </button>
        </div>
      </div>
      {moving && (
        <span id={movingId} hidden>
          {moving}
        </span>
      )}
      {!secure && <SecureContextNotice />}
      {state.error && (
        <p role="alert" className={`alert ${styles.joinError}`}>
          {state.error}
        </p>
      )}
      {state.previewing && (
        <div className={styles.preview}>
          <div className={styles.previewTile}>
            <Tile
              call={call}
              name="Preview"
              caption={props.meName}
              kind="camera"
              video={state.camera.track}
              videoOn={cameraOn(state)}
              micMuted={!microphoneOn(state)}
              mirrored
            />
          </div>
          <div className={styles.previewSide}>
            <div
              className={styles.meter}
              role="meter"
              aria-label="Microphone level"
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={Math.round(level * 100)}
            >
              <div className={styles.meterFill} style={{ width: `${Math.round(level * 100)}%` }} />
            </div>
            <CallControls call={call} state={state} inCall={false} />
            <p className="muted">Your choices carry into the call.</p>
          </div>
        </div>
      )}
    </div>
  );
}

function rosterText(roster: Participant[]): string {
  if (roster.length === 0) return "No one is in the call yet";
  const list = nameList(roster.map((p) => p.displayName));
  return `${list} ${roster.length === 1 ? "is" : "are"} in the call`;
}

/** Who is in a call, said briefly: "Ada", "Ada and Grace", "Ada, Grace, Linus and 2 more". */
export function nameList(names: string[]): string {
  const shown = names.length > 3 ? [...names.slice(0, 3), `${names.length - 3} more`] : names;
  return shown.length <= 1
    ? (shown[0] ?? "")
    : `${shown.slice(0, -1).join(", ")} and ${shown[shown.length - 1]}`;
}

function RosterFaces({ roster }: { roster: Participant[] }) {
  if (roster.length === 0) return null;
  return (
    <span className={styles.faces} aria-hidden="true">
      {roster.slice(0, 4).map((p) => (
        <span key={p.userId} className={styles.face}>
          {p.displayName.trim()[0]?.toUpperCase() ?? "?"}
        </span>
      ))}
    </span>
  );
}
