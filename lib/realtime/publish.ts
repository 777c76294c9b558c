import "server-only";
import type { Server } from "socket.io";
import type { RoomEvent } from "@/lib/chat/schemas";
import { channel } from "./protocol";

/**
 * Publishes a committed event: to everyone subscribed to the room (the sender's own tabs
 * included, so every client reconciles the same way), and a small activity note to those
 * watching the room from their room list.
 */
export function publishRoomEvent(io: Server, event: RoomEvent): void {
  io.to(channel.room(event.roomId)).emit("room.event", event);
  if (event.type === "message.created" || event.type === "room.renamed") {
    io.to(channel.watch(event.roomId)).emit("room.activity", {
      roomId: event.roomId,
      seq: event.seq,
    });
  }
}
