import "server-only";
import { eq, sql } from "drizzle-orm";
import type { Server } from "socket.io";
import { messagePath } from "@/lib/chat/permalink";
import type { RoomEvent } from "@/lib/chat/schemas";
import type { Db } from "@/lib/db/client";
import { roomMembers, rooms } from "@/lib/db/schema";
import { usersLookingAt } from "@/lib/realtime/focus";
import { channel } from "@/lib/realtime/protocol";
import type { PushOutcome, PushSender } from "./push";
import {
  defaultLevel,
  parseMentions,
  plainPreview,
  type NotifyLevel,
  type PushPayload,
} from "./schemas";
import { markSubscriptionsUsed, pushRecipients, type PushRecipientRow } from "./service";

export const NOTIFICATION_ICON = "/icons/icon-192.png";
/** A message is worth delivering for a day; a ringing call only while it could be answered. */
const MESSAGE_TTL_S = 24 * 60 * 60;
const CALL_TTL_S = 60;

export interface NotifierOptions {
  io: Server;
  db: () => Db;
  sender: PushSender;
  /** Server-wide privacy mode (PUSH_PRIVACY). */
  privacy: boolean;
  /** Rooms larger than this: only owners' @room notifies everyone (MENTION_ROOM_MAX_MEMBERS). */
  mentionRoomMaxMembers: number;
}

export interface FanoutResult {
  /** Devices handed a push, by outcome. */
  sent: number;
  gone: number;
  failed: number;
  /** People not pushed because one of their tabs shows the room. */
  looking: number;
}

type Why = "message" | "mention" | "direct";

/**
 * Whether a person wants to hear about something, given their settings:
 * muted or do-not-disturb: nothing; then the room's level (default by the room's kind).
 */
export function wants(
  row: Pick<PushRecipientRow, "level" | "muted" | "dnd_until">,
  kind: "open" | "private" | "direct",
  why: Why,
  now = Date.now(),
): boolean {
  if (row.muted) return false;
  if (row.dnd_until && new Date(row.dnd_until).getTime() > now) return false;
  const level: NotifyLevel = row.level ?? defaultLevel(kind);
  if (level === "nothing") return false;
  if (level === "all") return true;
  return why !== "message";
}

/**
 * The fan-out: after a message is published, push it to the devices of the room's members
 * who want it (levels, mute, do-not-disturb, mentions) and are not looking at the room now.
 * Runs beside the send path, never in it: the sender's ack has gone before this starts.
 */
export function createNotifier(options: NotifierOptions) {
  const { io, sender } = options;

  async function roomInfo(roomId: string) {
    const [room] = await options
      .db()
      .select({
        name: rooms.name,
        slug: rooms.slug,
        kind: rooms.kind,
        members: sql<number>`(select count(*)::int from ${roomMembers} where ${roomMembers.roomId} = ${rooms.id})`,
      })
      .from(rooms)
      .where(eq(rooms.id, roomId));
    return room ? { ...room, members: Number(room.members) } : undefined;
  }

  /**
   * Tells each person's open tabs (`notification`: a hidden tab of a device without push
   * shows it itself) and pushes to each of their devices.
   */
  async function deliver(
    targets: PushRecipientRow[],
    payloadFor: (row: PushRecipientRow) => PushPayload,
    push: { ttl: number; urgency: "normal" | "high"; topic?: string },
  ): Promise<Omit<FanoutResult, "looking">> {
    const told = new Set<string>();
    for (const row of targets) {
      if (told.has(row.user_id)) continue;
      told.add(row.user_id);
      io.to(channel.user(row.user_id)).emit("notification", payloadFor(row));
      // A room of thousands: let other work run between batches of emits.
      if (told.size % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const devices = targets.filter(
      (
        r,
      ): r is PushRecipientRow & {
        subscription_id: string;
        endpoint: string;
        p256dh: string;
        auth: string;
      } =>
        r.subscription_id !== null && r.endpoint !== null && r.p256dh !== null && r.auth !== null,
    );
    const outcomes: PushOutcome[] = await Promise.all(
      devices.map((row) =>
        sender.send(
          { id: row.subscription_id, endpoint: row.endpoint, p256dh: row.p256dh, auth: row.auth },
          JSON.stringify(payloadFor(row)),
          push,
        ),
      ),
    );
    const used = devices.filter((_, i) => outcomes[i] === "sent").map((r) => r.subscription_id);
    await markSubscriptionsUsed(options.db(), used);
    return {
      sent: used.length,
      gone: outcomes.filter((o) => o === "gone").length,
      failed: outcomes.filter((o) => o === "failed").length,
    };
  }

  /** Pushes for a new message; other events push nothing. */
  async function onRoomEvent(event: RoomEvent): Promise<FanoutResult | null> {
    if (event.type !== "message.created" || event.message.deletedAt) return null;
    const message = event.message;
    const [room, rows] = await Promise.all([
      roomInfo(event.roomId),
      pushRecipients(options.db(), event.roomId, message.author.id),
    ]);
    if (!room || rows.length === 0) return { sent: 0, gone: 0, failed: 0, looking: 0 };

    const mentions = parseMentions(message.body);
    const mentioned = new Set(mentions.userIds);
    const authorRole = await authorRoleIn(event.roomId, message.author.id);
    const roomMention =
      mentions.room && (room.members <= options.mentionRoomMaxMembers || authorRole === "owner");
    const direct = room.kind === "direct";
    const why = (userId: string): Why =>
      direct ? "direct" : roomMention || mentioned.has(userId) ? "mention" : "message";

    const wanted = rows.filter((r) => wants(r, room.kind, why(r.user_id)));
    if (wanted.length === 0) return { sent: 0, gone: 0, failed: 0, looking: 0 };
    const looking = await usersLookingAt(io, event.roomId);
    const targets = wanted.filter((r) => !looking.has(r.user_id));

    const sender_ = message.author.displayName;
    const preview =
      plainPreview(message.body) || (message.attachments.length ? "Shared a file" : "New message");
    const base = {
      kind: "message" as const,
      title: direct ? sender_ : `${sender_} in ${room.name}`,
      tag: `room:${event.roomId}`,
      url: messagePath(room.slug, message.seq),
      roomId: event.roomId,
      seq: message.seq,
      icon: NOTIFICATION_ICON,
      timestamp: Date.parse(message.createdAt),
    };
    const result = await deliver(
      targets,
      (row) => ({
        ...base,
        body: options.privacy || row.privacy ? "New message" : preview,
      }),
      // Mentions and direct messages wake a phone; the rest can wait for its next wake-up.
      {
        ttl: MESSAGE_TTL_S,
        urgency: direct || roomMention || mentioned.size > 0 ? "high" : "normal",
      },
    );
    return {
      ...result,
      looking: new Set(wanted.filter((r) => looking.has(r.user_id)).map((r) => r.user_id)).size,
    };
  }

  async function authorRoleIn(roomId: string, userId: string) {
    const [row] = await options
      .db()
      .select({ role: roomMembers.role })
      .from(roomMembers)
      .where(sql`${roomMembers.roomId} = ${roomId} and ${roomMembers.userId} = ${userId}`);
    return row?.role;
  }

  /**
   * A call started in a room: ring its members' devices (Join / Dismiss), by the same
   * levels — a direct conversation's call rings like a direct message, a room's like a
   * mention (a call asks for you now).
   */
  async function ringCall(
    roomId: string,
    caller: { id: string; displayName: string },
  ): Promise<FanoutResult | null> {
    const [room, rows] = await Promise.all([
      roomInfo(roomId),
      pushRecipients(options.db(), roomId, caller.id),
    ]);
    if (!room) return null;
    const why: Why = room.kind === "direct" ? "direct" : "mention";
    const wanted = rows.filter((r) => wants(r, room.kind, why));
    const looking = await usersLookingAt(io, roomId);
    const targets = wanted.filter((r) => !looking.has(r.user_id));
    const result = await deliver(
      targets,
      () => ({
        kind: "call",
        title: room.kind === "direct" ? caller.displayName : room.name,
        body: `${caller.displayName} started a call`,
        tag: `call:${roomId}`,
        url: `/r/${room.slug}`,
        roomId,
        seq: 0,
        icon: NOTIFICATION_ICON,
        timestamp: Date.now(),
      }),
      { ttl: CALL_TTL_S, urgency: "high", topic: `call${roomId.replace(/-/g, "").slice(0, 28)}` },
    );
    return { ...result, looking: looking.size };
  }

  return { onRoomEvent, ringCall };
}

export type Notifier = ReturnType<typeof createNotifier>;
