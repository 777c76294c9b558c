"use client";

import { useRouter } from "next/navigation";
import { type FormEvent, useState } from "react";
import { RoomNotifyMenu } from "@/components/notify/RoomNotifyMenu";
import { command } from "@/lib/realtime/client";
import { useCallHost } from "@/lib/call/client/hooks";
import { leaveRoom } from "@/lib/rooms/client";
import { copyText } from "@/components/ui/clipboard";
import { ExportButton } from "@/components/ui/ExportButton";
import styles from "./Room.module.css";

/** The room's name (renamable by its owner), its invite link, and leaving. */
export function RoomHeader({
  roomId,
  slug,
  name,
  invitePath,
  isOwner,
}: {
  roomId: string;
  slug: string;
  name: string;
  invitePath: string;
  isOwner: boolean;
}) {
  const router = useRouter();
  const callHost = useCallHost();
  const [status, setStatus] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [renaming, setRenaming] = useState(false);
  const [draft, setDraft] = useState(name);

  async function copyInvite() {
    const url = new URL(invitePath, window.location.origin).toString();
    if (await copyText(url, "Copy this invite link")) setStatus("Invite link copied");
    setTimeout(() => setStatus(""), 2500);
  }

  async function rename(e: FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      await command("room.rename", { roomId, name: draft });
      setRenaming(false);
    } catch (err) {
      setError(err instanceof Error ? err.message : "Could not rename the room");
    }
  }

  async function leave() {
    if (!window.confirm("Leave this room? You can come back through its link.")) return;
    try {
      await leaveRoom(slug);
      // Out of the room, out of its call (the shell would keep it otherwise).
      callHost.end(roomId);
      router.push("/");
    } catch (err) {
      setError(err instanceof Error ? err.message : "Could not leave the room");
    }
  }

  return (
    <div className={styles.header}>
      {renaming ? (
        <form className={styles.renameForm} onSubmit={(e) => void rename(e)}>
          <input
            className="input"
            aria-label="Room name"
            value={draft}
            maxLength={80}
            onChange={(e) => setDraft(e.target.value)}
            autoFocus
          />
          <button type="submit" className="btn btn-primary btn-small">
            Save
          </button>
          <button type="button" className="btn btn-small" onClick={() => setRenaming(false)}>
            Cancel
          </button>
        </form>
      ) : (
        <h1 className={styles.roomName}>{name}</h1>
      )}
      <div className={styles.headerActions}>
        <button type="button" className="btn btn-small" onClick={() => void copyInvite()}>
          Copy invite link
        </button>
        {isOwner && !renaming && (
          <button
            type="button"
            className="btn btn-small btn-ghost"
            onClick={() => {
              setDraft(name);
              setRenaming(true);
            }}
          >
            Rename room
          </button>
        )}
        {isOwner && (
          <ExportButton url={`/api/rooms/${encodeURIComponent(slug)}/export`} label="Export room" />
        )}
        <RoomNotifyMenu slug={slug} />
        <button type="button" className="btn btn-small btn-ghost" onClick={() => void leave()}>
          Leave room
        </button>
        <span role="status" className={styles.status}>
          {status}
        </span>
      </div>
      {error && (
        <p role="alert" className={`alert ${styles.headerError}`}>
          {error}
        </p>
      )}
    </div>
  );
}
