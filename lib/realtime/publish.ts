import "server-only";
import type { Server } from "socket.io";
import type { RoomEvent } from "@/lib/chat/schemas";
import { parseMentions } from "@/lib/notify/schemas";
import type { RoomActivity, RoomsNotice } from "@/lib/rooms/schemas";
import { rosterBroadcaster } from "./call-handlers";
import { publishPresence } from "./presence";
import { channel } from "./protocol";

/**
 * The one place committed changes are published (docs/architecture.md, "Realtime"). The
 * chat and rooms do* functions return what their change means to others — room log events,
 * rooms notices — and their caller (a socket handler or a route handler, never a page
 * while it renders) hands them here once the change has committed.
 */
export type Publication = RoomEvent | RoomsNotice;

export async function publish(io: Server, publications: readonly Publication[]): Promise<void> {
  for (const p of publications) {
    switch (p.type) {
      case "rooms.changed":
        if (p.userIds.length > 0) io.to(p.userIds.map(channel.user)).emit("rooms.changed");
        break;
      case "read.moved": {
        const { type: _type, userId, ...position } = p;
        io.to(channel.user(userId)).emit("read.updated", position);
        break;
      }
      case "member.gone":
        await memberGone(io, p.userId, p.roomId, p.removed);
        break;
      case "message.created":
      case "message.edited":
      case "message.deleted":
      case "reaction.changed":
      case "room.renamed":
        publishRoomEvent(io, p);
        break;
    }
  }
}

/**
 * A room log event: to everyone subscribed to the room (the sender's own tabs included, so
 * every client reconciles the same way), and as activity to those watching it from their
 * list of rooms — every event, so a list sees the room's seqs without gaps.
 */
function publishRoomEvent(io: Server, event: RoomEvent): void {
  io.to(channel.room(event.roomId)).emit("room.event", event);
  io.to(channel.watch(event.roomId)).emit("room.activity", activityOf(event));
  for (const listener of listeners.get(io) ?? []) {
    listener(event).catch((err: unknown) =>
      console.error(`[realtime] a room-event listener failed: ${String(err)}`),
    );
  }
}

export function activityOf(event: RoomEvent): RoomActivity {
  const { roomId, seq } = event;
  switch (event.type) {
    case "room.renamed":
      return { roomId, seq, type: "room.renamed", name: event.name };
    case "message.created": {
      const mentions = parseMentions(event.message.body);
      return {
        roomId,
        seq,
        type: "message.created",
        authorId: event.message.author.id,
        createdAt: event.message.createdAt,
        mentions: mentions.userIds,
        mentionsRoom: mentions.room,
      };
    }
    case "message.deleted":
      return {
        roomId,
        seq,
        type: "message.deleted",
        authorId: event.message.author.id,
        messageSeq: event.message.seq,
      };
    case "message.edited":
    case "reaction.changed":
      return { roomId, seq, type: event.type };
  }
}

/**
 * Someone left a room or was removed from it: their sockets leave it at once, on every web
 * node (the adapter carries `socketsLeave` and the emits) — its live events, its activity
 * in their list and its call roster — and a removed person's tabs are told (`room.removed`)
 * so they can leave the page. Everything they might ask for afterwards (sync, history,
 * files, a call ticket, a resubscribe after reconnecting) is refused by the membership
 * checks, since the membership is gone before this runs.
 */
async function memberGone(io: Server, userId: string, roomId: string, removed: boolean) {
  io.in(channel.user(userId)).socketsLeave([
    channel.room(roomId),
    channel.watch(roomId),
    channel.call(roomId),
  ]);
  if (removed) io.to(channel.user(userId)).emit("room.removed", { roomId });
  await publishPresence(io, roomId);
  rosterBroadcaster(io)(roomId);
}

export type RoomEventListener = (event: RoomEvent) => Promise<unknown>;

const listeners = new WeakMap<Server, RoomEventListener[]>();

/**
 * Runs `listener` after every room event published on this server (notifications'
 * fan-out), without holding up the publish: it starts after the event went out, and a
 * failure is logged. Returns the unsubscribe function.
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

export interface CallStarted {
  roomId: string;
  caller: { id: string; displayName: string };
}
export type CallStartedListener = (call: CallStarted) => Promise<unknown>;

const callListeners = new WeakMap<Server, CallStartedListener[]>();

/** A call began in a room (its first participant joined): tells the listeners, not waiting. */
export function publishCallStarted(io: Server, call: CallStarted): void {
  for (const listener of callListeners.get(io) ?? []) {
    listener(call).catch((err: unknown) =>
      console.error(`[realtime] a call-started listener failed: ${String(err)}`),
    );
  }
}

/** Runs `listener` when a call starts in a room (notifications ring). Returns the unsubscribe. */
export function onCallStarted(io: Server, listener: CallStartedListener): () => void {
  const list = callListeners.get(io) ?? [];
  list.push(listener);
  callListeners.set(io, list);
  return () => {
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
  };
}
