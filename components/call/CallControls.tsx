"use client";

import type { Call } from "@/lib/call/client/call";
import { type CallSnapshot, sharingScreen } from "@/lib/call/client/state";
import { DeviceMenu } from "./DeviceMenu";
import { Icon } from "./icons";
import { MediaToggle } from "./MediaToggle";
import styles from "./Call.module.css";

/** Microphone, Camera and Share screen toggles (aria-pressed), devices, and Leave call. */
export function CallControls({
  call,
  state,
  inCall,
}: {
  call: Call;
  state: CallSnapshot;
  inCall: boolean;
}) {
  const sharing = sharingScreen(state);
  const canShare =
    typeof navigator !== "undefined" &&
    typeof navigator.mediaDevices?.getDisplayMedia === "function";

  return (
    <div className={styles.controls}>
      <MediaToggle
        call={call}
        state={state}
        kind="microphone"
        className={`btn ${styles.control}`}
      />
      <MediaToggle call={call} state={state} kind="camera" className={`btn ${styles.control}`} />
      {inCall && (
        <button
          type="button"
          className={`btn ${styles.control} ${sharing ? styles.on : ""}`}
          aria-label="Share screen"
          aria-pressed={sharing}
          disabled={!canShare}
          title={
            !canShare
              ? "This browser can't share its screen"
              : sharing
                ? "Stop sharing"
                : "Share your screen"
          }
          onClick={() => void call.setScreenShare(!sharing)}
        >
          <Icon name="screen" />
        </button>
      )}
      <DeviceMenu call={call} state={state} />
      {inCall && (
        <button
          type="button"
          className={`btn ${styles.leave}`}
          aria-label="Leave call"
          onClick={() => void call.leave()}
        >
          <Icon name="leave" />
          <span>Leave call</span>
        </button>
      )}
    </div>
  );
}
