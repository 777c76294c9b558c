"use client";

import { useActiveCall, useCall, useCallRoster } from "@/lib/call/client/hooks";
import { useRoomSummary } from "@/lib/rooms/use-room-list";
import { CallControls } from "./CallControls";
import { CallLobby } from "./CallLobby";
import { CallStage } from "./CallStage";
import { MediaAlerts } from "./MediaAlerts";
import styles from "./Call.module.css";

/**
 * The room's call (issue 3; design: docs/calls.md), as the room page shows it; the call
 * itself belongs to the shell (lib/call/client/host.ts) and goes on when you move on. Before joining: who is in the call, a
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
  const { call, state, join } = useCall({ roomId, slug });
  const roster = useCallRoster(roomId);
  // In another room's call: joining this one leaves that one first.
  const active = useActiveCall();
  const other = active && active.call !== call ? active.call : null;
  const otherRoom = useRoomSummary(other?.room.roomId ?? null);
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
        <CallLobby
          call={call}
          state={state}
          roster={roster}
          meName={meName}
          onJoin={join}
          leavingRoomName={other ? (otherRoom?.name ?? "another room") : undefined}
        />
      )}
    </section>
  );
}
