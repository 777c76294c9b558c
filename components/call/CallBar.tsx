"use client";

import { useRouter } from "next/navigation";
import { useActiveCall } from "@/lib/call/client/hooks";
import { sharingScreen } from "@/lib/call/client/state";
import { useRoomSummary } from "@/lib/rooms/use-room-list";
import { nameList } from "./CallLobby";
import { Icon } from "./icons";
import { MediaToggle } from "./MediaToggle";
import styles from "./Call.module.css";

/**
 * The call you are in, while you look at another room or page (like Discord's "Voice
 * connected"): its room and who is in it, `Return to call`, `Microphone`, `Camera`, `Share
 * screen` while you share (to stop), and `Leave call`.
 * On the call's own room page the stage shows instead, so this shows nothing there.
 */
export function CallBar({ currentSlug }: { currentSlug: string | null }) {
  const router = useRouter();
  const active = useActiveCall();
  const room = useRoomSummary(active?.call.room.roomId ?? null);
  if (!active || active.call.room.slug === currentSlug) return null;
  const { call, state } = active;
  const sharing = sharingScreen(state);
  const roomName = room?.name ?? "Call";
  const people = nameList(["You", ...state.participants.map((p) => p.displayName)]);

  return (
    <aside aria-label="Your call" className={styles.callBar}>
      <div className={styles.callBarInfo}>
        <span className={styles.callBarStatus}>
          {state.status === "joined"
            ? "In the call"
            : state.status === "joining"
              ? "Joining…"
              : "Reconnecting…"}
        </span>
        <span className={styles.callBarRoom}>{roomName}</span>
        <span className={styles.callBarPeople}>{people}</span>
      </div>
      <div className={styles.callBarActions}>
        <button
          type="button"
          className="btn btn-small"
          onClick={() => router.push(`/r/${call.room.slug}`)}
        >
          Return to call
        </button>
        <MediaToggle
          call={call}
          state={state}
          kind="microphone"
          className={`btn btn-small ${styles.callBarIcon}`}
          iconSize={16}
        />
        <MediaToggle
          call={call}
          state={state}
          kind="camera"
          className={`btn btn-small ${styles.callBarIcon}`}
          iconSize={16}
        />
        {sharing && (
          <button
            type="button"
            className={`btn btn-small ${styles.callBarIcon} ${styles.on}`}
            aria-label="Share screen"
            aria-pressed="true"
            title="Stop sharing"
            onClick={() => void call.setScreenShare(false)}
          >
            <Icon name="screen" size={16} />
          </button>
        )}
        <button
          type="button"
          className={`btn btn-small ${styles.callBarIcon} ${styles.leave}`}
          aria-label="Leave call"
          title="Leave call"
          onClick={() => void call.leave()}
        >
          <Icon name="leave" size={16} />
        </button>
      </div>
    </aside>
  );
}
