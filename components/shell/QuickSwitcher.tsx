"use client";

import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { type KeyboardEvent, useId, useState } from "react";
import { findPeople } from "@/lib/rooms/client";
import { type SwitcherOption, switcherOptions } from "@/lib/rooms/navigation";
import type { RoomSummary } from "@/lib/rooms/schemas";
import { Modal } from "@/components/ui/Modal";
import styles from "./Shell.module.css";

/**
 * The quick switcher (Ctrl/⌘+K): type part of a room's or a person's name, move with the
 * arrows, Enter opens the room — or your direct conversation with that person, started
 * the first time (`POST /api/direct`). A combobox with a listbox, the active option named
 * by `aria-activedescendant` while focus stays in the field (the WAI-ARIA combobox pattern).
 */
export function QuickSwitcher({
  rooms,
  onOpenRoom,
  onOpenPerson,
  onClose,
}: {
  rooms: RoomSummary[];
  onOpenRoom(slug: string): void;
  /** Opens (starting if need be) the direct conversation; rejects with a message to show. */
  onOpenPerson(userId: string): Promise<void>;
  onClose(): void;
}) {
  const id = useId();
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const q = query.trim();
  const people = useQuery({
    queryKey: ["people", q],
    queryFn: () => findPeople(q),
    enabled: q.length > 0,
    placeholderData: keepPreviousData,
    staleTime: 60_000,
  });
  const options = switcherOptions(rooms, q ? (people.data ?? []) : [], query);
  const current = options[Math.min(active, options.length - 1)];
  const optionId = (o: SwitcherOption) => `${id}-${o.id}`;

  async function choose(option: SwitcherOption | undefined) {
    if (!option) return;
    if (option.kind === "room") {
      onOpenRoom(option.room.slug);
      return;
    }
    setError(null);
    try {
      await onOpenPerson(option.person.userId);
    } catch (err) {
      setError(err instanceof Error ? err.message : "Could not open the conversation");
    }
  }

  function onKeyDown(e: KeyboardEvent<HTMLInputElement>) {
    const last = options.length - 1;
    const move = (to: number) => {
      e.preventDefault();
      setActive(Math.max(0, Math.min(last, to)));
    };
    if (e.key === "ArrowDown") move(active >= last ? 0 : active + 1);
    else if (e.key === "ArrowUp") move(active <= 0 ? last : active - 1);
    else if (e.key === "PageDown" || (e.key === "End" && e.ctrlKey)) move(last);
    else if (e.key === "PageUp" || (e.key === "Home" && e.ctrlKey)) move(0);
    else if (e.key === "Enter") {
      e.preventDefault();
      void choose(current);
    }
  }

  return (
    <Modal label="Find a room or person" className={styles.switcher} onClose={onClose}>
      <input
        className={`input ${styles.switcherInput}`}
        role="combobox"
        aria-label="Room or person"
        aria-expanded={options.length > 0}
        aria-controls={`${id}-list`}
        aria-autocomplete="list"
        aria-activedescendant={current ? optionId(current) : undefined}
        placeholder="Type a room or a person's name"
        autoComplete="off"
        spellCheck={false}
        value={query}
        autoFocus
        onChange={(e) => {
          setQuery(e.target.value);
          setActive(0);
        }}
        onKeyDown={onKeyDown}
      />
      <ul id={`${id}-list`} role="listbox" aria-label="Rooms and people" className={styles.options}>
        {options.map((option) => (
          // Chosen with the mouse here; with the keyboard through the combobox above.
          <li
            key={option.id}
            id={optionId(option)}
            role="option"
            aria-selected={option === current}
            className={styles.option}
            onMouseMove={() => setActive(options.indexOf(option))}
            onClick={() => void choose(option)}
          >
            <span className={styles.optionName}>{option.label}</span>
            <span className={styles.optionHint}>{hint(option)}</span>
          </li>
        ))}
      </ul>
      <p role="status" className={`muted ${styles.switcherStatus}`}>
        {options.length === 0
          ? q && people.isFetching
            ? "Searching…"
            : "No room or person by that name"
          : ""}
      </p>
      {error && (
        <p role="alert" className="alert">
          {error}
        </p>
      )}
    </Modal>
  );
}

function hint(option: SwitcherOption): string {
  if (option.kind === "person") return "Direct message";
  const { room } = option;
  const kind =
    room.kind === "direct" ? "Direct message" : room.kind === "private" ? "Private room" : "Room";
  return room.unreadCount > 0 ? `${kind} · ${room.unreadCount} unread` : kind;
}
