"use client";

import Link from "next/link";
import { useId } from "react";
import { isApplePlatform, keyLabels, shortcuts } from "@/lib/keyboard/shortcuts";
import { sidebarSections } from "@/lib/rooms/navigation";
import type { RoomSummary } from "@/lib/rooms/schemas";
import { useHydrated } from "@/components/ui/use-hydrated";
import styles from "./Shell.module.css";

/**
 * Your rooms and direct conversations, live: unread and mention counts, a mark on rooms
 * with a call going on, the current room marked `aria-current="page"`. The sidebar on wide
 * screens, the drawer's content on phones. Links are client navigations (next/link).
 */
export function RoomsNav({
  rooms,
  currentSlug,
  callRoomId,
  onFind,
  onShortcuts,
  onNavigate,
}: {
  rooms: RoomSummary[];
  currentSlug: string | null;
  /** The room of the call you are in, marked as yours. */
  callRoomId: string | null;
  onFind(): void;
  onShortcuts(): void;
  /** A room was chosen (the drawer closes). */
  onNavigate?(): void;
}) {
  const sections = sidebarSections(rooms);
  const hydrated = useHydrated();
  const findKeys = keyLabels(shortcuts.quickSwitcher, hydrated && isApplePlatform()).join("+");
  return (
    <nav aria-label="Rooms" className={styles.nav}>
      <button
        type="button"
        className={`btn btn-small ${styles.find}`}
        onClick={onFind}
        aria-keyshortcuts="Control+K Meta+K"
      >
        Find a room or person
        <kbd className={styles.kbd} aria-hidden="true">
          {findKeys}
        </kbd>
      </button>
      {(
        [
          ["Rooms", sections.rooms],
          ["Direct messages", sections.direct],
        ] as const
      ).map(([title, list]) => (
        <Section
          key={title}
          title={title}
          rooms={list}
          current={currentSlug}
          callRoomId={callRoomId}
          onNavigate={onNavigate}
        />
      ))}
      {rooms.length === 0 && <p className={`muted ${styles.empty}`}>No rooms yet.</p>}
      <button
        type="button"
        className={`btn btn-ghost btn-small ${styles.shortcutsButton}`}
        onClick={onShortcuts}
        aria-keyshortcuts="?"
      >
        Keyboard shortcuts
      </button>
    </nav>
  );
}

function Section({
  title,
  rooms,
  current,
  callRoomId,
  onNavigate,
}: {
  title: string;
  rooms: RoomSummary[];
  current: string | null;
  callRoomId: string | null;
  onNavigate?: () => void;
}) {
  const headingId = useId();
  if (rooms.length === 0) return null;
  return (
    <section className={styles.section} aria-labelledby={headingId}>
      <h2 id={headingId} className={styles.sectionTitle}>
        {title}
      </h2>
      <ul className={styles.rooms}>
        {rooms.map((room) => (
          <li key={room.id}>
            <RoomLink
              room={room}
              current={room.slug === current}
              inCall={room.id === callRoomId}
              onNavigate={onNavigate}
            />
          </li>
        ))}
      </ul>
    </section>
  );
}

/**
 * What the marks beside a room say, for screen readers: "3 unread, 1 mention, call in
 * progress" ("you are in its call" when it is yours).
 */
export function describeRoom(room: RoomSummary, inCall = false): string {
  const parts: string[] = [];
  if (room.unreadCount > 0) parts.push(`${room.unreadCount} unread`);
  if (room.mentionCount > 0)
    parts.push(`${room.mentionCount} ${room.mentionCount === 1 ? "mention" : "mentions"}`);
  if (inCall) parts.push("you are in its call");
  else if (room.callCount > 0) parts.push("call in progress");
  return parts.join(", ");
}

function RoomLink({
  room,
  current,
  inCall,
  onNavigate,
}: {
  room: RoomSummary;
  current: boolean;
  inCall: boolean;
  onNavigate?: () => void;
}) {
  const description = describeRoom(room, inCall);
  return (
    <Link
      href={`/r/${room.slug}`}
      className={`${styles.room} ${room.unreadCount > 0 ? styles.unread : ""}`}
      aria-current={current ? "page" : undefined}
      // Named by the room's name alone (UI-CONTRACT: the marks are aria-hidden); what they
      // show is its description.
      aria-description={description || undefined}
      onClick={onNavigate}
    >
      <span className={styles.roomName}>{room.name}</span>
      <span className={styles.marks} aria-hidden="true">
        {(room.callCount > 0 || inCall) && (
          <span
            className={`${styles.callMark} ${inCall ? styles.callMarkMine : ""}`}
            title={
              inCall
                ? `You are in this call (${Math.max(room.callCount, 1)})`
                : `Call in progress (${room.callCount})`
            }
            data-in-call={inCall || undefined}
          >
            <CallIcon />
            {Math.max(room.callCount, inCall ? 1 : 0)}
          </span>
        )}
        {room.mentionCount > 0 && (
          <span className={`${styles.count} ${styles.mentionCount}`}>@{room.mentionCount}</span>
        )}
        {room.unreadCount > 0 && <span className={styles.count}>{room.unreadCount}</span>}
      </span>
    </Link>
  );
}

function CallIcon() {
  return (
    <svg width="12" height="12" viewBox="0 0 24 24" fill="currentColor" focusable="false">
      <path d="M6.6 10.8a15.1 15.1 0 0 0 6.6 6.6l2.2-2.2a1 1 0 0 1 1-.25 11.4 11.4 0 0 0 3.6.57 1 1 0 0 1 1 1V20a1 1 0 0 1-1 1A17 17 0 0 1 3 4a1 1 0 0 1 1-1h3.5a1 1 0 0 1 1 1c0 1.25.2 2.45.57 3.6a1 1 0 0 1-.25 1z" />
    </svg>
  );
}
