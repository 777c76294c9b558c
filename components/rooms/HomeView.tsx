"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import type { SessionUser } from "@/lib/auth/schemas";
import { chatKeys } from "@/lib/chat/client/keys";
import { useOutboxSender } from "@/lib/chat/client/use-outbox-sender";
import { command, getSocket } from "@/lib/realtime/client";
import { createRoom, fetchRooms } from "@/lib/rooms/client";
import type { RoomSummary } from "@/lib/rooms/schemas";
import { AppHeader } from "@/components/ui/AppHeader";
import { LocalTime } from "@/components/ui/LocalTime";
import styles from "./HomeView.module.css";

/** Home: start a room, or open one of yours; unread counts stay live. */
export function HomeView({
  user,
  initialRooms,
}: {
  user: SessionUser;
  initialRooms: RoomSummary[];
}) {
  const router = useRouter();
  const queryClient = useQueryClient();
  useOutboxSender(user.id);
  const [error, setError] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const { data: rooms } = useQuery({
    queryKey: chatKeys.rooms,
    queryFn: fetchRooms,
    initialData: initialRooms,
  });

  const roomIds = rooms.map((r) => r.id).join(",");
  useEffect(() => {
    const socket = getSocket();
    const refresh = () => void queryClient.invalidateQueries({ queryKey: chatKeys.rooms });
    const watch = () => {
      // Watch first, then refetch: whatever changed before the watch began (read elsewhere,
      // new messages) is in the refetch, and everything after arrives live. The other order
      // loses a message sent between the two.
      command("rooms.watch", { roomIds: roomIds ? roomIds.split(",") : [] })
        .catch(() => undefined)
        .finally(refresh);
    };
    socket.on("connect", watch);
    socket.on("room.activity", refresh);
    socket.on("rooms.changed", refresh);
    socket.on("read.updated", refresh);
    if (socket.connected) watch();
    return () => {
      socket.off("connect", watch);
      socket.off("room.activity", refresh);
      socket.off("rooms.changed", refresh);
      socket.off("read.updated", refresh);
    };
  }, [roomIds, queryClient]);

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
    <>
      <AppHeader userName={user.displayName} />
      <main className={styles.main}>
        <div className={styles.top}>
          <h1 className={styles.title}>Your rooms</h1>
          <div className={styles.actions}>
            <button
              type="button"
              className="btn"
              onClick={() => void onNewRoom("private")}
              disabled={creating}
              title="Only people with its invite link can join"
            >
              New private room
            </button>
            <button
              type="button"
              className="btn btn-primary"
              onClick={() => void onNewRoom("open")}
              disabled={creating}
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
            <RoomList label="Rooms" rooms={rooms.filter((r) => r.kind !== "direct")} />
            <RoomList label="Direct messages" rooms={rooms.filter((r) => r.kind === "direct")} />
          </>
        )}
      </main>
    </>
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
