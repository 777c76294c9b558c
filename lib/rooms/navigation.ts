import type { RoomSummary } from "./schemas";

/**
 * Moving between rooms: the sidebar's order, the room before or after (Alt+↑/↓), and what
 * the quick switcher offers for what was typed. Pure functions over the live list
 * (lib/rooms/list-sync.ts), so every place that moves between rooms agrees on the order.
 */

/** The sidebar's two sections, each most recently active first (the list's order). */
export function sidebarSections(rooms: readonly RoomSummary[]): {
  rooms: RoomSummary[];
  direct: RoomSummary[];
} {
  return {
    rooms: rooms.filter((r) => r.kind !== "direct"),
    direct: rooms.filter((r) => r.kind === "direct"),
  };
}

/** Every room in the order the sidebar shows them, top to bottom. */
export function sidebarOrder(rooms: readonly RoomSummary[]): RoomSummary[] {
  const sections = sidebarSections(rooms);
  return [...sections.rooms, ...sections.direct];
}

/**
 * The room `step` places below (1) or above (-1) the current one in the sidebar; from a page
 * that is no room, the first (down) or the last (up). Null past either end: it stops there.
 */
export function adjacentRoom(
  rooms: readonly RoomSummary[],
  currentSlug: string | null,
  step: 1 | -1,
): RoomSummary | null {
  const order = sidebarOrder(rooms);
  const at = currentSlug ? order.findIndex((r) => r.slug === currentSlug) : -1;
  if (at < 0) return (step === 1 ? order[0] : order.at(-1)) ?? null;
  return order[at + step] ?? null;
}

/** The room a path shows (`/r/<slug>`), or null. */
export function slugOfPath(pathname: string | null): string | null {
  return /^\/r\/([^/?#]+)/.exec(pathname ?? "")?.[1] ?? null;
}

/** Someone the quick switcher can open a direct conversation with. */
export interface Person {
  userId: string;
  displayName: string;
}

export type SwitcherOption =
  | { kind: "room"; id: string; label: string; room: RoomSummary }
  | { kind: "person"; id: string; label: string; person: Person };

/**
 * How well `name` matches what was typed: 0 it starts with it, 1 a word in it does, 2 it
 * is inside a word, null not at all. Case and accents do not matter.
 */
export function matchRank(name: string, query: string): number | null {
  const n = fold(name);
  const q = fold(query.trim());
  if (!q) return 0;
  if (n.startsWith(q)) return 0;
  if (n.split(/[\s&,.\-_'’]+/).some((word) => word.startsWith(q))) return 1;
  return n.includes(q) ? 2 : null;
}

function fold(s: string): string {
  return s.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

/**
 * What the quick switcher lists for `query`: with nothing typed, your rooms in the sidebar's
 * order; else the matching rooms and then the matching people, each best match first (ties
 * keep the sidebar's order, so recent rooms win), at most `limit`. People you already
 * have a direct conversation with still show: choosing one opens that conversation.
 */
export function switcherOptions(
  rooms: readonly RoomSummary[],
  people: readonly Person[],
  query: string,
  limit = 12,
): SwitcherOption[] {
  const ranked = <T>(items: readonly T[], name: (t: T) => string) =>
    items
      .map((item, i) => ({ item, i, rank: matchRank(name(item), query) }))
      .filter((x): x is { item: T; i: number; rank: number } => x.rank !== null)
      .sort((a, b) => a.rank - b.rank || a.i - b.i)
      .map((x) => x.item);
  const roomOptions: SwitcherOption[] = ranked(sidebarOrder(rooms), (r) => r.name).map((room) => ({
    kind: "room",
    id: `room-${room.id}`,
    label: room.name,
    room,
  }));
  const personOptions: SwitcherOption[] = query.trim()
    ? ranked(people, (p) => p.displayName).map((person) => ({
        kind: "person",
        id: `person-${person.userId}`,
        label: person.displayName,
        person,
      }))
    : [];
  return [...roomOptions, ...personOptions].slice(0, limit);
}
