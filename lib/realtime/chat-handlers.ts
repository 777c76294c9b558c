import "server-only";
import type { Server } from "socket.io";
import { SYNC_PAGE_SIZE } from "@/lib/chat/schemas";
import {
  doDeleteMessage,
  doEditMessage,
  doReact,
  doSendMessage,
  type ChatLimits,
} from "@/lib/chat/service";
import { loadEventsSince } from "@/lib/chat/views";
import type { Db } from "@/lib/db/client";
import { notFound } from "@/lib/errors";
import { accessRoomById, memberRoomIds } from "@/lib/rooms/access";
import { doMarkRead, doRenameRoom, listRoomsForUser } from "@/lib/rooms/service";
import { withCallCounts } from "./call-handlers";
import { type AppSocket, onCommand } from "./command";
import { roomParticipants } from "./presence";
import { channel } from "./protocol";
import { publish } from "./publish";
import type { RateLimit } from "@/lib/server/rate-limit";

export interface ChatHandlerDeps {
  io: Server;
  db: () => Db;
  limits: ChatLimits;
  writes: RateLimit;
  typing: RateLimit;
  /** One per server, so bursts of joins in a room coalesce into one presence update. */
  broadcastPresence: (roomId: string) => void;
}

/** Chat, presence and read-position commands for one connected socket. */
export function registerChatHandlers(socket: AppSocket, deps: ChatHandlerDeps): void {
  const { io, limits, broadcastPresence } = deps;
  const user = socket.data.user;

  const member = async (roomId: string) => {
    const access = await accessRoomById(deps.db(), roomId, user.id);
    if (!access) throw notFound("There is no such room");
    return access;
  };

  onCommand(socket, "room.subscribe", async ({ roomId }) => {
    const access = await member(roomId);
    await socket.join(channel.room(roomId));
    broadcastPresence(roomId);
    return { participants: await roomParticipants(io, roomId), lastSeq: access.room.lastSeq };
  });

  onCommand(socket, "room.unsubscribe", async ({ roomId }) => {
    await socket.leave(channel.room(roomId));
    broadcastPresence(roomId);
    return null;
  });

  onCommand(socket, "room.sync", async ({ roomId, afterSeq }) => {
    await member(roomId);
    return loadEventsSince(deps.db(), roomId, afterSeq, SYNC_PAGE_SIZE);
  });

  // Watch first, then read: whatever the rooms' logs do after the read arrives live (later
  // seqs), whatever they did before is in the answer, so a list that applies only the seqs
  // after each room's `lastSeq` misses nothing (lib/rooms/list-sync.ts). Two queries,
  // however many rooms: which of them are yours, then their summaries.
  onCommand(socket, "rooms.watch", async ({ roomIds }) => {
    const mine = await memberRoomIds(deps.db(), user.id, roomIds);
    await socket.join(mine.map(channel.watch));
    // Call counts after the join too: a roster change after it arrives live.
    const rooms = await withCallCounts(io, await listRoomsForUser(deps.db(), user.id, mine));
    // A room left meanwhile is not in the answer, and not watched either.
    const watched = new Set(rooms.map((r) => channel.watch(r.id)));
    for (const room of [...socket.rooms]) {
      if (room.startsWith("watch:") && !watched.has(room)) await socket.leave(room);
    }
    return { watching: rooms.length, rooms };
  });

  onCommand(socket, "room.rename", async ({ roomId, name }) => {
    await deps.writes.consume(user.id);
    const { events, ...renamed } = await doRenameRoom(deps.db(), user, roomId, name);
    await publish(io, events);
    return renamed;
  });

  onCommand(socket, "message.send", async (input) => {
    await deps.writes.consume(user.id);
    const { message, event } = await doSendMessage(deps.db(), user, input, limits);
    if (event) await publish(io, [event]);
    return message;
  });

  onCommand(socket, "message.edit", async (input) => {
    await deps.writes.consume(user.id);
    const { message, event } = await doEditMessage(deps.db(), user, input, limits);
    if (event) await publish(io, [event]);
    return message;
  });

  onCommand(socket, "message.delete", async (input) => {
    await deps.writes.consume(user.id);
    const { message, event } = await doDeleteMessage(deps.db(), user, input);
    if (event) await publish(io, [event]);
    return message;
  });

  onCommand(socket, "reaction.set", async (input) => {
    await deps.writes.consume(user.id);
    const { message, event } = await doReact(deps.db(), user, input);
    if (event) await publish(io, [event]);
    return message;
  });

  onCommand(socket, "typing.start", async ({ roomId }) => {
    // Typing is only relayed to a room this socket subscribed to (membership was checked
    // then); a typing flood is dropped quietly rather than answered with an error.
    if (!socket.rooms.has(channel.room(roomId))) throw notFound("There is no such room");
    try {
      await deps.typing.consume(`${socket.id}:${roomId}`);
    } catch {
      return null;
    }
    socket
      .to(channel.room(roomId))
      .emit("typing", { roomId, userId: user.id, displayName: user.displayName });
    return null;
  });

  onCommand(socket, "read.mark", async ({ roomId, seq }) => {
    const { events, ...position } = await doMarkRead(deps.db(), user.id, roomId, seq);
    await publish(io, events);
    return position;
  });

  socket.on("disconnecting", () => {
    const rooms = [...socket.rooms].filter((r) => r.startsWith("room:"));
    // Presence is recomputed once the socket has actually left its rooms.
    socket.once("disconnect", () => {
      for (const room of rooms) broadcastPresence(room.slice("room:".length));
    });
  });
}
