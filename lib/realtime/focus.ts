import "server-only";
import type { Server } from "socket.io";
import { type AppSocket, type SocketData, onCommand } from "./command";
import { channel } from "./protocol";

/** `client.focus`: the tab says which room it shows and whether someone is looking at it. */
export function registerFocusHandler(socket: AppSocket): void {
  onCommand(socket, "client.focus", async ({ roomId, active }) => {
    socket.data.focus = { roomId, active };
    return null;
  });
}

/**
 * The users with a tab showing `roomId` that is visible and focused, on any node (the
 * adapter carries each socket's data). Those tabs are subscribed to the room's channel, so
 * only they are asked.
 */
export async function usersLookingAt(io: Server, roomId: string): Promise<Set<string>> {
  const sockets = await io.in(channel.room(roomId)).fetchSockets();
  const users = new Set<string>();
  for (const s of sockets) {
    const data = s.data as Partial<SocketData>;
    if (data.user && data.focus?.roomId === roomId && data.focus.active) users.add(data.user.id);
  }
  return users;
}
