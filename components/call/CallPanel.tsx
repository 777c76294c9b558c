"use client";

import { useCall, useCallRoster } from "@/lib/call/client/hooks";
import { CallControls } from "./CallControls";
import { CallLobby } from "./CallLobby";
import { CallStage } from "./CallStage";
import { MediaAlerts } from "./MediaAlerts";
import styles from "./Call.module.css";

/**
 * The room's call (issue 3; design: docs/calls.md). Before joining: who is in the call, a
 * preview and `Join call`. In the call: the tiles and the controls. Either way the region
 * is named `Call` and device problems show as alerts.
 */
export function CallPanel({
  roomId,
  slug,
  meName,
}: {
  roomId: string;
  slug: string;
  meName: string;
}) {
  const { call, state } = useCall({ roomId, slug });
  const roster = useCallRoster(roomId);
  const inCall = state.status !== "idle";

  return (
    <section aria-label="Call" className={`${styles.panel} ${inCall ? styles.inCall : ""}`}>
      <MediaAlerts problems={state.problems} onDismiss={(device) => call.dismissProblem(device)} />
      {inCall ? (
        <>
          {state.status !== "joined" && (
            <p role="status" className={styles.status}>
              {state.status === "joining" ? "Joining…" : "Connection lost. Reconnecting…"}
            </p>
          )}
          <div className={styles.stage}>
            <CallStage call={call} state={state} meName={meName} />
          </div>
          <CallControls call={call} state={state} inCall />
        </>
      ) : (
        <CallLobby call={call} state={state} roster={roster} meName={meName} />
      )}
    </section>
  );
}
