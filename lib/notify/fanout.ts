import "server-only";
import { eq, sql } from "drizzle-orm";
import type { Server } from "socket.io";
import { messagePath } from "@/lib/chat/permalink";
import type { RoomEvent } from "@/lib/chat/schemas";
import type { Db } from "@/lib/db/client";
import { queryRows } from "@/lib/db/sql";
import { roomMembers, rooms } from "@/lib/db/schema";
import { usersLookingAt } from "@/lib/realtime/focus";
import { channel } from "@/lib/realtime/protocol";
import type { PushOptions, PushSender, PushTarget } from "./push";
import {
  defaultLevel,
  parseMentions,
  plainPreview,
  type NotifyLevel,
  type PushPayload,
} from "./schemas";
import { pushRecipientPages, type PushRecipientRow, type SubscriptionUseRecorder } from "./service";

export const NOTIFICATION_ICON = "/icons/icon-192.png";
/**
 * Pages of recipients handed to the push sender and not answered yet, at most: the next
 * page is read when the oldest is answered. The worker always has the next page's devices
 * queued, and the reads (on PGlite, the main thread's) are spread over the fan-out instead
 * of coming back to back at its start, where each of another room's send's queries would
 * wait behind one.
 */
const PAGES_IN_FLIGHT = 2;

/** A message is worth delivering for a day; a ringing call only while it could be answered. */
const MESSAGE_TTL_S = 24 * 60 * 60;
const CALL_TTL_S = 60;

export interface NotifierOptions {
  io: Server;
  db: () => Db;
  sender: PushSender;
  /** Where the devices a push reached are noted (their `last_success_at`, written later). */
  used: SubscriptionUseRecorder;
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
      .select({ name: rooms.name, slug: rooms.slug, kind: rooms.kind })
      .from(rooms)
      .where(eq(rooms.id, roomId));
    return room;
  }

  /** Whether the room has at most `limit` members (counted no further than one past it). */
  async function membersAtMost(roomId: string, limit: number): Promise<boolean> {
    const [row] = await queryRows<{ n: number }>(
      options.db(),
      sql`select count(*)::int as n from (
            select 1 from ${roomMembers} where ${roomMembers.roomId} = ${roomId} limit ${limit + 1}) m`,
    );
    return Number(row?.n ?? 0) <= limit;
  }

  /**
   * Reads the room's members page by page (service.ts, `pushRecipientPages`), keeps those
   * `wanted` who are not looking at the room, and hands each page's people to `deliver` as
   * soon as it is read, with at most PAGES_IN_FLIGHT pages unanswered. Who is looking is
   * asked once, at the first person who wants it.
   */
  async function fanOut(
    roomId: string,
    exceptUserId: string,
    wanted: (row: PushRecipientRow) => boolean,
    payloadFor: (row: PushRecipientRow) => PushPayload,
    push: PushOptions,
  ): Promise<FanoutResult> {
    const result: FanoutResult = { sent: 0, gone: 0, failed: 0, looking: 0 };
    const lookingUsers = new Set<string>();
    let looking: Promise<Set<string>> | null = null;
    const deliveries: Promise<void>[] = [];
    for await (const page of pushRecipientPages(options.db(), roomId, exceptUserId)) {
      const rows = page.filter(wanted);
      if (rows.length === 0) continue;
      looking ??= usersLookingAt(io, roomId);
      const now = await looking;
      for (const r of rows) if (now.has(r.user_id)) lookingUsers.add(r.user_id);
      const delivery = deliver(
        rows.filter((r) => !now.has(r.user_id)),
        payloadFor,
        push,
      ).then((d) => {
        result.sent += d.sent;
        result.gone += d.gone;
        result.failed += d.failed;
      });
      // Awaited below, after the last page; a failure meanwhile must not go unhandled.
      delivery.catch(() => undefined);
      deliveries.push(delivery);
      if (deliveries.length >= PAGES_IN_FLIGHT)
        await deliveries[deliveries.length - PAGES_IN_FLIGHT]!.catch(() => undefined);
    }
    await Promise.all(deliveries);
    result.looking = lookingUsers.size;
    return result;
  }

  /**
   * Tells each person's open tabs (`notification`: a hidden tab of a device without push
   * shows it itself) and pushes to each of their devices. `payloadFor` returns one of a few
   * payload objects (with or without the preview): each is emitted once to all its people
   * and serialised once for all its devices.
   */
  async function deliver(
    targets: PushRecipientRow[],
    payloadFor: (row: PushRecipientRow) => PushPayload,
    push: PushOptions,
  ): Promise<Omit<FanoutResult, "looking">> {
    const groups = new Map<PushPayload, { users: Set<string>; devices: PushTarget[] }>();
    for (const row of targets) {
      const payload = payloadFor(row);
      let group = groups.get(payload);
      if (!group) {
        group = { users: new Set(), devices: [] };
        groups.set(payload, group);
      }
      group.users.add(row.user_id);
      if (row.subscription_id && row.endpoint && row.p256dh && row.auth)
        group.devices.push({
          id: row.subscription_id,
          endpoint: row.endpoint,
          p256dh: row.p256dh,
          auth: row.auth,
        });
    }
    const pushes: { target: PushTarget; payload: string }[] = [];
    for (const [payload, group] of groups) {
      io.to([...group.users].map(channel.user)).emit("notification", payload);
      const text = JSON.stringify(payload);
      for (const target of group.devices) pushes.push({ target, payload: text });
    }
    const outcomes = await sender.sendAll(pushes, push);
    const used = pushes.filter((_, i) => outcomes[i] === "sent").map((p) => p.target.id);
    options.used.record(used);
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
    const room = await roomInfo(event.roomId);
    if (!room) return { sent: 0, gone: 0, failed: 0, looking: 0 };

    const mentions = parseMentions(message.body);
    const mentioned = new Set(mentions.userIds);
    // An owner's @room always counts; anyone else's only in a room small enough.
    const roomMention =
      mentions.room &&
      ((await authorRoleIn(event.roomId, message.author.id)) === "owner" ||
        (await membersAtMost(event.roomId, options.mentionRoomMaxMembers)));
    const direct = room.kind === "direct";
    const why = (userId: string): Why =>
      direct ? "direct" : roomMention || mentioned.has(userId) ? "mention" : "message";

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
    const shown: PushPayload = { ...base, body: preview };
    const hidden: PushPayload = { ...base, body: "New message" };
    return fanOut(
      event.roomId,
      message.author.id,
      (row) => wants(row, room.kind, why(row.user_id)),
      (row) => (options.privacy || row.privacy ? hidden : shown),
      // Mentions and direct messages wake a phone; the rest can wait for its next wake-up.
      {
        ttl: MESSAGE_TTL_S,
        urgency: direct || roomMention || mentioned.size > 0 ? "high" : "normal",
      },
    );
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
    const room = await roomInfo(roomId);
    if (!room) return null;
    const why: Why = room.kind === "direct" ? "direct" : "mention";
    const ring: PushPayload = {
      kind: "call",
      title: room.kind === "direct" ? caller.displayName : room.name,
      body: `${caller.displayName} started a call`,
      tag: `call:${roomId}`,
      url: `/r/${room.slug}`,
      roomId,
      seq: 0,
      icon: NOTIFICATION_ICON,
      timestamp: Date.now(),
    };
    return fanOut(
      roomId,
      caller.id,
      (row) => wants(row, room.kind, why),
      () => ring,
      { ttl: CALL_TTL_S, urgency: "high", topic: `call${roomId.replace(/-/g, "").slice(0, 28)}` },
    );
  }

  return { onRoomEvent, ringCall };
}

export type Notifier = ReturnType<typeof createNotifier>;
