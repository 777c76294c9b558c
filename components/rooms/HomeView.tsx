"use client";

import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { createRoom } from "@/lib/rooms/client";
import { sidebarSections } from "@/lib/rooms/navigation";
import type { RoomSummary } from "@/lib/rooms/schemas";
import { useRoomList } from "@/lib/rooms/use-room-list";
import { LocalTime } from "@/components/ui/LocalTime";
import { useHydrated } from "@/components/ui/use-hydrated";
import styles from "./HomeView.module.css";

/**
 * Home: start a room, or open one of yours; unread counts stay live (the shell's one list,
 * lib/rooms/use-room-list.tsx).
 */
export function HomeView() {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  // Disabled until hydrated: a click before the handlers are attached would do nothing.
  const hydrated = useHydrated();
  const rooms = useRoomList();
  const sections = sidebarSections(rooms);

  async function onNewRoom(kind: "open" | "private") {
    setCreating(true);
    setError(null);
    try {
      const room = await createRoom({ kind });
      router.push(`/r/${room.slug}`);
    } catch (err) {
      setError(err instanceof Error ? err.message : "Could not create a room");
      setCreating(false);
    }
  }

  return (
    <main className={styles.main}>
      <div className={styles.top}>
        <h1 className={styles.title}>Your rooms</h1>
        <div className={styles.actions}>
          <button
            type="button"
            className="btn"
            onClick={() => void onNewRoom("private")}
            disabled={!hydrated || creating}
            title="Only people with its invite link can join"
          >
            New private room
          </button>
          <button
            type="button"
            className="btn btn-primary"
            onClick={() => void onNewRoom("open")}
            disabled={!hydrated || creating}
          >
            New room
          </button>
        </div>
      </div>
      {error && (
        <p role="alert" className="alert">
          {error}
        </p>
      )}
      {rooms.length === 0 ? (
        <div className={`card ${styles.empty}`}>
          <p>
            No rooms yet. Start one with <strong>New room</strong> and share its link.
          </p>
        </div>
      ) : (
        <>
          <RoomList label="Rooms" rooms={sections.rooms} />
          <RoomList label="Direct messages" rooms={sections.direct} />
        </>
      )}
    </main>
  );
}

function RoomList({ label, rooms }: { label: string; rooms: RoomSummary[] }) {
  if (rooms.length === 0) return null;
  return (
    <section className={styles.section}>
      <h2 className={styles.sectionTitle}>{label}</h2>
      <ul className={styles.list} aria-label={label}>
        {rooms.map((room) => (
          <li key={room.id} className={`card ${styles.item}`}>
            <Link href={`/r/${room.slug}`} className={styles.link}>
              {room.name}
            </Link>
            <span className={styles.meta}>
              {room.kind === "private" && <span className={styles.kind}>private</span>}
              {room.mentionCount > 0 && (
                <span className={`${styles.badge} ${styles.mentions}`}>
                  {room.mentionCount} {room.mentionCount === 1 ? "mention" : "mentions"}
                </span>
              )}
              {room.unreadCount > 0 ? (
                <span className={styles.badge}>{room.unreadCount} unread</span>
              ) : (
                <span className="muted">
                  {room.lastMessageAt ? (
                    <LocalTime dateTime={room.lastMessageAt} style="recent" />
                  ) : (
                    "No messages yet"
                  )}
                </span>
              )}
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}
