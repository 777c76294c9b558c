import { z } from "zod";
import {
  deleteMessageSchema,
  editMessageSchema,
  reactSchema,
  sendMessageSchema,
  type MessageView,
  type RoomEvent,
  type SyncPage,
} from "@/lib/chat/schemas";
import type { ErrorBody } from "@/lib/errors";
import type { PushPayload } from "@/lib/notify/schemas";
import {
  type ReadPosition,
  type RoomActivity,
  roomNameSchema,
  type RoomSummary,
} from "@/lib/rooms/schemas";

/**
 * The Socket.IO protocol between browser and web node, declared once for both ends.
 * Every client command carries a zod schema (the server parses every payload with it) and
 * is answered through an ack callback with an envelope. Server events are typed here; the
 * server is trusted to send them. Design: docs/architecture.md ("Realtime").
 */

export type Ack<T> = { ok: true; data: T } | { ok: false; error: ErrorBody };

const roomRef = z.object({ roomId: z.uuid() });
const callRef = roomRef.extend({ session: z.uuid().optional() });

/** The most rooms one `rooms.watch` may name (checked in one query). */
export const MAX_WATCHED_ROOMS = 500;

/** Commands: name → [payload schema, ack data type]. */
export const commands = {
  /** Start receiving a room's live events and presence; answers who is there. */
  "room.subscribe": roomRef,
  "room.unsubscribe": roomRef,
  /** The events after `afterSeq`, paged: catch-up after (re)connecting or a gap. */
  "room.sync": z.object({ roomId: z.uuid(), afterSeq: z.number().int().min(0) }),
  "room.rename": z.object({ roomId: z.uuid(), name: roomNameSchema }),
  "message.send": sendMessageSchema,
  "message.edit": editMessageSchema,
  "message.delete": deleteMessageSchema,
  "reaction.set": reactSchema,
  "typing.start": roomRef,
  /**
   * Follow the activity (not presence) of your rooms — all of them, or those of `roomIds`
   * you are in — for your list of rooms; answers their summaries as of after the watch began
   * (lib/rooms/list-sync.ts). Replaces the socket's previous watch.
   */
  "rooms.watch": z.object({
    roomIds: z
      .array(z.uuid())
      .max(MAX_WATCHED_ROOMS, `Watch at most ${MAX_WATCHED_ROOMS} rooms at once`)
      .optional(),
  }),
  /** Moves your read position forward in every tab and device. */
  "read.mark": z.object({ roomId: z.uuid(), seq: z.number().int().min(0) }),
  /**
   * Which room this tab shows and whether someone is looking at it (visible and focused):
   * pushes for that room are held back while any of your tabs is (lib/notify/fanout.ts).
   */
  "client.focus": z.object({ roomId: z.uuid().nullable(), active: z.boolean() }),
  /**
   * This tab is now in the room's call (sent on joining and again after every reconnect).
   * `session` names this time in the call (one per Join), so that the leave of an earlier
   * one, arriving late, cannot take the tab out of a newer one.
   */
  "call.join": callRef,
  /** This tab left the room's call: ignored when `session` is no longer the tab's current. */
  "call.leave": callRef,
  /** Who is in the room's call now, for people who have not joined it. */
  "call.roster": roomRef,
} as const;

export type CommandName = keyof typeof commands;
export type CommandInput<N extends CommandName> = z.input<(typeof commands)[N]>;

export interface Participant {
  userId: string;
  displayName: string;
  isGuest: boolean;
}

export interface CommandResults {
  "room.subscribe": { participants: Participant[]; lastSeq: number };
  "room.unsubscribe": null;
  "room.sync": SyncPage;
  "room.rename": { seq: number; name: string };
  "message.send": MessageView;
  "message.edit": MessageView;
  "message.delete": MessageView;
  "reaction.set": MessageView;
  "typing.start": null;
  "rooms.watch": { watching: number; rooms: RoomSummary[] };
  "read.mark": ReadPosition;
  "client.focus": null;
  "call.join": CallRoster;
  "call.leave": CallRoster;
  "call.roster": CallRoster;
}

/** The distinct people with a tab in a room's call (lib/realtime/call-handlers.ts). */
export interface CallRoster {
  roomId: string;
  participants: Participant[];
}

export interface ServerEvents {
  /** An entry of a subscribed room's event log. */
  "room.event": (event: RoomEvent) => void;
  /** Who is in the room now (any tab or device), after each change. */
  presence: (payload: { roomId: string; participants: Participant[] }) => void;
  typing: (payload: { roomId: string; userId: string; displayName: string }) => void;
  /** Your read position moved (on this or another device), with the room's unread count. */
  "read.updated": (payload: ReadPosition) => void;
  /** An event of a watched room's log (every one, in seq order), as a list of rooms needs it. */
  "room.activity": (payload: RoomActivity) => void;
  /** An owner removed you from the room: it is gone from your list and sends you nothing more. */
  "room.removed": (payload: { roomId: string }) => void;
  /** Your list of rooms changed (a room made, joined, left or opened, anywhere): re-watch it. */
  "rooms.changed": () => void;
  /**
   * Something you would be notified of (lib/notify/fanout.ts), to all your tabs: a hidden
   * tab on a device without Web Push shows it as a desktop notification.
   */
  notification: (payload: PushPayload) => void;
  /** Who is in the room's call, after each change; sent to everyone in the room. */
  "call.roster": (payload: CallRoster) => void;
}

export type ClientCommands = {
  [N in CommandName]: (payload: unknown, ack: (result: Ack<CommandResults[N]>) => void) => void;
};

/** Socket.IO room names: one per chat room and one per user (all their tabs and devices). */
export const channel = {
  room: (roomId: string) => `room:${roomId}`,
  user: (userId: string) => `user:${userId}`,
  watch: (roomId: string) => `watch:${roomId}`,
  call: (roomId: string) => `call:${roomId}`,
};

/** Largest frame the server accepts; messages are ≤ 100k chars, files go over HTTP. */
export const MAX_SOCKET_PAYLOAD_BYTES = 512 * 1024;
