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
  for (const listener of listeners.get(io) ?? []) {
    listener(event).catch((err: unknown) =>
      console.error(`[realtime] a room-event listener failed: ${String(err)}`),
    );
  }
  if (event.type === "message.created" || event.type === "room.renamed") {
    io.to(channel.watch(event.roomId)).emit("room.activity", {
      roomId: event.roomId,
      seq: event.seq,
    });
  }
}

export type RoomEventListener = (event: RoomEvent) => Promise<unknown>;

const listeners = new WeakMap<Server, RoomEventListener[]>();

/**
 * Runs `listener` after every event published on this server (notifications' fan-out),
 * without holding up the publish: it starts after the event went out, and a failure is
 * logged. Returns the unsubscribe function.
 */
export function onRoomEvent(io: Server, listener: RoomEventListener): () => void {
  const list = listeners.get(io) ?? [];
  list.push(listener);
  listeners.set(io, list);
  return () => {
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
  };
}
