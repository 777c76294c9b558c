import { readJson } from "@/lib/api-client";
import type { Person } from "./navigation";
import type { RoomView } from "./schemas";

export async function createRoom(input: { name?: string; kind?: "open" | "private" } = {}) {
  const { room } = await readJson<{ room: RoomView }>(
    await fetch("/api/rooms", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(input),
    }),
  );
  return room;
}

export async function leaveRoom(slug: string): Promise<void> {
  await readJson(
    await fetch(`/api/rooms/${encodeURIComponent(slug)}/membership`, { method: "DELETE" }),
  );
}

/** `Remove from room` (owners): revokes their membership; the link no longer lets them back. */
export async function removeMember(slug: string, userId: string): Promise<void> {
  await readJson(
    await fetch(`/api/rooms/${encodeURIComponent(slug)}/members/${encodeURIComponent(userId)}`, {
      method: "DELETE",
    }),
  );
}

export async function openDirectRoom(userId: string): Promise<RoomView> {
  const { room } = await readJson<{ room: RoomView }>(
    await fetch("/api/direct", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ userId }),
    }),
  );
  return room;
}

/** People you share a room with whose names start with `q` (the quick switcher). */
export async function findPeople(q: string): Promise<Person[]> {
  const { people } = await readJson<{ people: Person[] }>(
    await fetch(`/api/people?${new URLSearchParams({ q, limit: "8" })}`),
  );
  return people;
}
