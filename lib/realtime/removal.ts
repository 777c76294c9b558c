import "server-only";
import type { Server } from "socket.io";
import { rosterBroadcaster } from "./call-handlers";
import { publishPresence } from "./presence";
import { channel } from "./protocol";

/**
 * Takes a removed member's sockets out of a room at once, on every web node (the adapter
 * carries `socketsLeave` and the emits): its live events, its activity in their room list
 * and its call roster. Their tabs are told (`room.removed`) so they can leave the page.
 * Everything they might ask for afterwards — sync, history, files, a call ticket, a
 * resubscribe after reconnecting — is refused by the membership checks, since the
 * membership is already gone when this runs.
 */
export async function evictFromRoom(io: Server, userId: string, roomId: string): Promise<void> {
  const theirs = io.in(channel.user(userId));
  theirs.socketsLeave([channel.room(roomId), channel.watch(roomId), channel.call(roomId)]);
  io.to(channel.user(userId)).emit("room.removed", { roomId });
  io.to(channel.user(userId)).emit("rooms.changed");
  await publishPresence(io, roomId);
  rosterBroadcaster(io)(roomId);
}
