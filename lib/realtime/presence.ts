import "server-only";
import type { Server } from "socket.io";
import { channel, type Participant } from "./protocol";

/**
 * Who is in a room now: the distinct users with a socket subscribed to it, on any node
 * (fetchSockets asks every node through the adapter). Computed on change rather than
 * tracked, so a crashed node's sockets simply stop being counted.
 */
export async function roomParticipants(io: Server, roomId: string): Promise<Participant[]> {
  const sockets = await io.in(channel.room(roomId)).fetchSockets();
  const byUser = new Map<string, Participant>();
  for (const s of sockets) {
    const user = (s.data as { user?: Participant & { id: string } }).user;
    if (user && !byUser.has(user.id)) {
      byUser.set(user.id, {
        userId: user.id,
        displayName: user.displayName,
        isGuest: user.isGuest,
      });
    }
  }
  return [...byUser.values()].sort((a, b) => a.displayName.localeCompare(b.displayName));
}

/** Sends the room's participants to everyone in it. */
export async function publishPresence(io: Server, roomId: string): Promise<void> {
  const participants = await roomParticipants(io, roomId);
  io.to(channel.room(roomId)).emit("presence", { roomId, participants });
}

/** Like publishPresence, coalesced: at most once per tick per room. */
export function presenceBroadcaster(io: Server) {
  const pending = new Set<string>();
  return (roomId: string) => {
    if (pending.has(roomId)) return;
    pending.add(roomId);
    setImmediate(() => {
      pending.delete(roomId);
      publishPresence(io, roomId).catch((err: unknown) =>
        console.warn(`[realtime] presence for ${roomId} failed: ${String(err)}`),
      );
    });
  };
}
