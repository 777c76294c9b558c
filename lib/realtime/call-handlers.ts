import "server-only";
import type { Server } from "socket.io";
import type { Db } from "@/lib/db/client";
import { notFound } from "@/lib/errors";
import { accessRoomById } from "@/lib/rooms/access";
import type { RoomSummary, StoredRoomSummary } from "@/lib/rooms/schemas";
import { type AppSocket, onCommand } from "./command";
import { publishCallStarted } from "./publish";
import { type CallRoster, channel, type Participant } from "./protocol";

/**
 * Who is in a room's call, for everyone in the room — including people who have not joined
 * it. Kept on the web node, not the SFU: the SFU knows nothing of rooms' members, and the
 * room page already has this socket. Like presence (presence.ts), the roster is computed,
 * not tracked: the distinct users with a socket in the channel `call:<roomId>` on any node,
 * so a closed tab or a crashed node simply stops counting. Design: docs/calls.md.
 */
export interface CallHandlerDeps {
  io: Server;
  db: () => Db;
  /** One per server, so a burst of joins in a room makes one roster update. */
  broadcastRoster: (roomId: string) => void;
}

export async function callRoster(io: Server, roomId: string): Promise<CallRoster> {
  const sockets = await io.in(channel.call(roomId)).fetchSockets();
  const byUser = new Map<string, Participant>();
  for (const s of sockets) {
    const user = (s.data as { user?: { id: string; displayName: string; isGuest: boolean } }).user;
    if (user && !byUser.has(user.id)) {
      byUser.set(user.id, {
        userId: user.id,
        displayName: user.displayName,
        isGuest: user.isGuest,
      });
    }
  }
  const participants = [...byUser.values()].sort((a, b) =>
    a.displayName.localeCompare(b.displayName),
  );
  return { roomId, participants };
}

/**
 * How many distinct people are in each of these rooms' calls now, for lists of rooms (the
 * sidebar's and home's call mark). One `fetchSockets` for all of them, however many rooms:
 * only sockets in one of their calls answer, and each says which calls it is in.
 */
export async function callCounts(
  io: Server,
  roomIds: readonly string[],
): Promise<Map<string, number>> {
  const people = new Map<string, Set<string>>();
  if (roomIds.length === 0) return new Map();
  const wanted = new Set(roomIds.map(channel.call));
  const sockets = await io.in([...wanted]).fetchSockets();
  for (const s of sockets) {
    const userId = (s.data as { user?: { id: string } }).user?.id;
    if (!userId) continue;
    for (const r of s.rooms) {
      if (!wanted.has(r)) continue;
      const roomId = r.slice("call:".length);
      let users = people.get(roomId);
      if (!users) people.set(roomId, (users = new Set()));
      users.add(userId);
    }
  }
  return new Map([...people].map(([roomId, users]) => [roomId, users.size]));
}

/** Stored summaries with how many people are in each room's call (`RoomSummary`). */
export async function withCallCounts(
  io: Server,
  rooms: StoredRoomSummary[],
): Promise<RoomSummary[]> {
  const counts = await callCounts(
    io,
    rooms.map((r) => r.id),
  );
  return rooms.map((r) => ({ ...r, callCount: counts.get(r.id) ?? 0 }));
}

/**
 * Sends a room's call roster, at most once per tick, to everyone in the room, in the call,
 * and watching it from a list of rooms (whose call mark it keeps live).
 */
export function rosterBroadcaster(io: Server) {
  const pending = new Set<string>();
  return (roomId: string) => {
    if (pending.has(roomId)) return;
    pending.add(roomId);
    setImmediate(() => {
      pending.delete(roomId);
      callRoster(io, roomId).then(
        (roster) =>
          io
            .to([channel.room(roomId), channel.call(roomId), channel.watch(roomId)])
            .emit("call.roster", roster),
        (err: unknown) =>
          console.warn(`[realtime] call roster for ${roomId} failed: ${String(err)}`),
      );
    });
  };
}

/** `call.join`, `call.leave` and `call.roster` for one connected socket. */
export function registerCallHandlers(socket: AppSocket, deps: CallHandlerDeps): void {
  const { io, broadcastRoster } = deps;
  const user = socket.data.user;

  const member = async (roomId: string) => {
    const access = await accessRoomById(deps.db(), roomId, user.id);
    if (!access) throw notFound("There is no such room");
  };

  // The tab's current session in each call, noted before any await: a join waiting for
  // the database must not be overtaken by the leave of an older session, nor a leave of an
  // older session undo a newer join (the Call sends one session per Join; lib/call/client).
  const calls = (socket.data.calls ??= new Map<string, string | undefined>());

  onCommand(socket, "call.join", async ({ roomId, session }) => {
    calls.set(roomId, session);
    try {
      await member(roomId);
    } catch (err) {
      if (calls.get(roomId) === session) calls.delete(roomId);
      throw err;
    }
    // Left (this very session) while the membership was checked: stay out.
    if (!calls.has(roomId) || calls.get(roomId) !== session) return callRoster(io, roomId);
    await socket.join(channel.call(roomId));
    broadcastRoster(roomId);
    const roster = await callRoster(io, roomId);
    // The first one in: the call has started (notifications ring the room's members).
    if (roster.participants.length === 1 && roster.participants[0]!.userId === user.id) {
      publishCallStarted(io, { roomId, caller: { id: user.id, displayName: user.displayName } });
    }
    return roster;
  });

  onCommand(socket, "call.leave", async ({ roomId, session }) => {
    // A late leave of an earlier session: the tab is in the call through a newer one.
    if (session !== undefined && calls.has(roomId) && calls.get(roomId) !== session)
      return callRoster(io, roomId);
    calls.delete(roomId);
    await socket.leave(channel.call(roomId));
    broadcastRoster(roomId);
    return callRoster(io, roomId);
  });

  onCommand(socket, "call.roster", async ({ roomId }) => {
    await member(roomId);
    return callRoster(io, roomId);
  });

  socket.on("disconnecting", () => {
    const calls = [...socket.rooms].filter((r) => r.startsWith("call:"));
    // The roster is recomputed once the socket has actually left its channels.
    socket.once("disconnect", () => {
      for (const call of calls) broadcastRoster(call.slice("call:".length));
    });
  });
}
