import "server-only";
import { createPublicKey } from "node:crypto";
import { setImmediate as nextTurn, setTimeout as sleep } from "node:timers/promises";
import {
  and,
  desc,
  eq,
  fillPlaceholders,
  inArray,
  isNull,
  lt,
  or,
  type SQL,
  sql,
} from "drizzle-orm";
import { PgDialect } from "drizzle-orm/pg-core";
import type { SessionUser } from "@/lib/auth/schemas";
import type { Db, Queryable } from "@/lib/db/client";
import { preparedStatement, runPrepared } from "@/lib/db/prepared";
import { notifyPrefs, pushSubscriptions, roomNotifySettings } from "@/lib/db/schema";
import { queryRows } from "@/lib/db/sql";
import { badRequest, notFound } from "@/lib/errors";
import { accessRoomBySlug } from "@/lib/rooms/access";
import { isNonPublicLiteral } from "@/lib/server/public-address";
import {
  defaultLevel,
  type NotifyLevel,
  type PrefsView,
  type RoomNotifyView,
  type SubscribeInput,
  type SubscriptionView,
} from "./schemas";

/** A person keeps at most this many devices subscribed; the oldest goes first. */
export const MAX_SUBSCRIPTIONS_PER_USER = 20;

/**
 * Subscriptions, levels and switches: the database side of notifications, each checked
 * against who is asking. The fan-out that reads them is lib/notify/fanout.ts.
 */

/** Registers (or re-registers) this device's subscription for the user. */
export async function doSubscribe(
  db: Queryable,
  user: SessionUser,
  input: SubscribeInput,
  options: { insecureOrigins: string[]; userAgent?: string | null },
): Promise<SubscriptionView> {
  const url = new URL(input.endpoint);
  if (url.protocol !== "https:" && !options.insecureOrigins.includes(url.origin)) {
    throw badRequest("A push endpoint must be an https: URL");
  }
  if (url.username || url.password) throw badRequest("A push endpoint has no credentials");
  const local = url.hostname === "localhost" || url.hostname.endsWith(".localhost");
  if (
    !options.insecureOrigins.includes(url.origin) &&
    (local || isNonPublicLiteral(url.hostname))
  ) {
    throw badRequest("A push endpoint must be on a public address");
  }
  checkSubscriptionKeys(input.keys);
  const label = input.label || deviceLabel(options.userAgent ?? "");
  // An endpoint belongs to one browser profile: whoever subscribes it last owns it (a
  // shared computer where someone else signs in must not keep pushing to the first person).
  const [row] = await db
    .insert(pushSubscriptions)
    .values({
      userId: user.id,
      endpoint: input.endpoint,
      p256dh: input.keys.p256dh,
      auth: input.keys.auth,
      label,
    })
    .onConflictDoUpdate({
      target: pushSubscriptions.endpoint,
      set: { userId: user.id, p256dh: input.keys.p256dh, auth: input.keys.auth, label },
    })
    .returning();
  await db.execute(sql`
    delete from push_subscriptions where user_id = ${user.id} and id not in (
      select id from push_subscriptions where user_id = ${user.id}
      order by created_at desc limit ${MAX_SUBSCRIPTIONS_PER_USER})`);
  return toSubscriptionView(row!);
}

/**
 * RFC 8291's keys must be usable before they are stored: `p256dh` an uncompressed point on
 * P-256, `auth` 16 bytes. The schema checks only their length and alphabet; a key that
 * passed it but is not on the curve made every push to the device fail in encryption.
 */
function checkSubscriptionKeys(keys: { p256dh: string; auth: string }): void {
  const point = Buffer.from(keys.p256dh, "base64url");
  let onCurve = point.length === 65 && point[0] === 0x04;
  if (onCurve) {
    try {
      createPublicKey({
        key: {
          kty: "EC",
          crv: "P-256",
          x: point.subarray(1, 33).toString("base64url"),
          y: point.subarray(33).toString("base64url"),
        },
        format: "jwk",
      });
    } catch {
      onCurve = false;
    }
  }
  if (!onCurve) throw badRequest("keys.p256dh is not a P-256 public key");
  if (Buffer.from(keys.auth, "base64url").length !== 16)
    throw badRequest("keys.auth must be 16 bytes");
}

export async function listSubscriptions(
  db: Queryable,
  userId: string,
): Promise<SubscriptionView[]> {
  const rows = await db
    .select()
    .from(pushSubscriptions)
    .where(eq(pushSubscriptions.userId, userId))
    .orderBy(desc(pushSubscriptions.createdAt));
  return rows.map(toSubscriptionView);
}

export async function doUnsubscribe(db: Queryable, userId: string, id: string): Promise<void> {
  const gone = await db
    .delete(pushSubscriptions)
    .where(and(eq(pushSubscriptions.id, id), eq(pushSubscriptions.userId, userId)))
    .returning({ id: pushSubscriptions.id });
  if (gone.length === 0) throw notFound("There is no such device");
}

/** A push service said the subscription is gone (404/410). */
export async function deleteSubscription(db: Queryable, id: string): Promise<void> {
  await db.delete(pushSubscriptions).where(eq(pushSubscriptions.id, id));
}

function toSubscriptionView(row: typeof pushSubscriptions.$inferSelect): SubscriptionView {
  return {
    id: row.id,
    label: row.label,
    createdAt: row.createdAt.toISOString(),
    lastSuccessAt: row.lastSuccessAt?.toISOString() ?? null,
  };
}

/** "Firefox on Linux" and the like, from the User-Agent; the person can tell devices apart. */
export function deviceLabel(ua: string): string {
  const browser = /Edg\//.test(ua)
    ? "Edge"
    : /Firefox\//.test(ua)
      ? "Firefox"
      : /Chrome\/|Chromium\//.test(ua)
        ? "Chrome"
        : /Safari\//.test(ua)
          ? "Safari"
          : "Browser";
  const os = /Android/.test(ua)
    ? "Android"
    : /iPhone|iPad/.test(ua)
      ? "iOS"
      : /Mac OS X/.test(ua)
        ? "macOS"
        : /Windows/.test(ua)
          ? "Windows"
          : /Linux/.test(ua)
            ? "Linux"
            : "";
  return os ? `${browser} on ${os}` : browser;
}

export async function getPrefs(db: Queryable, userId: string): Promise<PrefsView> {
  const [row] = await db.select().from(notifyPrefs).where(eq(notifyPrefs.userId, userId));
  const dndUntil = row?.dndUntil && row.dndUntil.getTime() > Date.now() ? row.dndUntil : null;
  return {
    dndUntil: dndUntil?.toISOString() ?? null,
    privacy: row?.privacy ?? false,
    emailDigest: row?.emailDigest ?? true,
  };
}

export async function doUpdatePrefs(
  db: Queryable,
  userId: string,
  input: { dndMinutes?: number; privacy?: boolean; emailDigest?: boolean },
): Promise<PrefsView> {
  const set: Partial<typeof notifyPrefs.$inferInsert> = {};
  if (input.dndMinutes !== undefined) {
    set.dndUntil = input.dndMinutes > 0 ? new Date(Date.now() + input.dndMinutes * 60_000) : null;
  }
  if (input.privacy !== undefined) set.privacy = input.privacy;
  if (input.emailDigest !== undefined) set.emailDigest = input.emailDigest;
  await db
    .insert(notifyPrefs)
    .values({ userId, ...set })
    .onConflictDoUpdate({ target: notifyPrefs.userId, set });
  return getPrefs(db, userId);
}

export async function getRoomNotify(
  db: Queryable,
  user: SessionUser,
  slug: string,
): Promise<RoomNotifyView> {
  const access = await accessRoomBySlug(db, slug, user.id);
  if (!access) throw notFound("There is no such room");
  const [row] = await db
    .select()
    .from(roomNotifySettings)
    .where(
      and(eq(roomNotifySettings.roomId, access.room.id), eq(roomNotifySettings.userId, user.id)),
    );
  return {
    level: row?.level ?? defaultLevel(access.room.kind),
    chosen: !!row?.level,
    muted: row?.muted ?? false,
  };
}

export async function doUpdateRoomNotify(
  db: Queryable,
  user: SessionUser,
  slug: string,
  input: { level?: NotifyLevel | null; muted?: boolean },
): Promise<RoomNotifyView> {
  const access = await accessRoomBySlug(db, slug, user.id);
  if (!access) throw notFound("There is no such room");
  const set: Partial<typeof roomNotifySettings.$inferInsert> = {};
  if (input.level !== undefined) set.level = input.level;
  if (input.muted !== undefined) set.muted = input.muted;
  await db
    .insert(roomNotifySettings)
    .values({ roomId: access.room.id, userId: user.id, ...set })
    .onConflictDoUpdate({
      target: [roomNotifySettings.roomId, roomNotifySettings.userId],
      set,
    });
  return getRoomNotify(db, user, slug);
}

/** One member of a room with a subscribed device, and what they chose. */
export interface PushRecipientRow {
  user_id: string;
  role: "owner" | "member" | "guest";
  level: NotifyLevel | null;
  muted: boolean | null;
  dnd_until: Date | string | null;
  privacy: boolean | null;
  /** Null for a member with no subscribed device (one row for them). */
  subscription_id: string | null;
  endpoint: string | null;
  p256dh: string | null;
  auth: string | null;
}

/**
 * Members per page of the recipients query. On PGlite every query runs on the web node's
 * main thread: a room of 2,000 read at once held it (and every other room's send) for
 * ~18 ms; a page of this many members, a prepared statement, holds it for ~0.35 ms (50:
 * ~0.55 ms, for 10 % less in all), and other rooms' sends run between pages.
 */
export const RECIPIENTS_PAGE = 25;

/**
 * One page of recipients: the room's members after `after` (by user id) except `except`,
 * one row per subscribed device (one row with null device columns for a member with none),
 * with each member's level, mute, do-not-disturb and privacy switch. A named prepared
 * statement (lib/db/prepared.ts): parsed and planned once, not on every page.
 */
const recipientsQuery = new PgDialect().sqlToQuery(
  sql`select rm.user_id, rm.role, s.level, s.muted,
               (extract(epoch from p.dnd_until) * 1000)::bigint as dnd_until_ms, p.privacy,
               ps.id as subscription_id, ps.endpoint, ps.p256dh, ps.auth
        from (select room_id, user_id, role from room_members
              where room_id = ${sql.placeholder("roomId")}::uuid
                and (${sql.placeholder("except")}::uuid is null
                     or user_id <> ${sql.placeholder("except")}::uuid)
                and user_id > ${sql.placeholder("after")}::uuid
              order by user_id limit ${sql.placeholder("limit")}::int) rm
        left join push_subscriptions ps on ps.user_id = rm.user_id
        left join room_notify_settings s on s.room_id = rm.room_id and s.user_id = rm.user_id
        left join notify_prefs p on p.user_id = rm.user_id
        order by rm.user_id`,
);
const recipientsPage = preparedStatement("parley_push_recipients_page", recipientsQuery.sql);

/** Postgres' text output of a boolean. */
const textBool = (v: string | null) => (v === null ? null : v === "t");

/**
 * The room's members except `exceptUserId` (`recipientsPage`'s rows), in pages of
 * `pageSize` members (all of a member's devices in the same page), by user id.
 */
export async function* pushRecipientPages(
  db: Db,
  roomId: string,
  exceptUserId: string | null,
  pageSize = RECIPIENTS_PAGE,
): AsyncGenerator<PushRecipientRow[]> {
  // The nil UUID sorts first: the first page starts there (a plain range on the primary key).
  let after = "00000000-0000-0000-0000-000000000000";
  for (;;) {
    const values = { roomId, except: exceptUserId, after, limit: String(pageSize) };
    const params = fillPlaceholders(recipientsQuery.params, values) as Array<string | null>;
    const rows: PushRecipientRow[] = (await runPrepared(db, recipientsPage, params)).map(
      ([user_id, role, level, muted, dnd, privacy, subscription_id, endpoint, p256dh, auth]) => ({
        user_id: user_id!,
        role: role as PushRecipientRow["role"],
        level: level as NotifyLevel | null,
        muted: textBool(muted ?? null),
        dnd_until: dnd === null || dnd === undefined ? null : new Date(Number(dnd)),
        privacy: textBool(privacy ?? null),
        subscription_id: subscription_id ?? null,
        endpoint: endpoint ?? null,
        p256dh: p256dh ?? null,
        auth: auth ?? null,
      }),
    );
    if (rows.length > 0) yield rows;
    if (new Set(rows.map((r) => r.user_id)).size < pageSize) return;
    after = rows.at(-1)!.user_id;
    // PGlite answers in microtasks: without a turn of the event loop here, a whole room's
    // pages would run as one task, and no socket (another room's send) would be read
    // until the last one.
    await nextTurn();
  }
}

/** How stale a device's `last_success_at` may get: it is rewritten at most this often. */
const LAST_SUCCESS_PRECISION_MS = 60 * 60 * 1000;

/**
 * Records that pushes reached these devices, to the hour: a busy room's every message does
 * not rewrite every member's device row. One statement; `SubscriptionUseRecorder` feeds it
 * small batches, off the moment of a fan-out.
 */
export async function markSubscriptionsUsed(
  db: Queryable,
  ids: string[],
  now = new Date(),
): Promise<void> {
  if (ids.length === 0) return;
  const stale = new Date(now.getTime() - LAST_SUCCESS_PRECISION_MS);
  await db
    .update(pushSubscriptions)
    .set({ lastSuccessAt: now })
    .where(
      and(
        inArray(pushSubscriptions.id, ids),
        or(isNull(pushSubscriptions.lastSuccessAt), lt(pushSubscriptions.lastSuccessAt, stale)),
      ),
    );
}

/** Devices per `last_success_at` statement, and the pause between two statements. */
const USE_BATCH = 50;
const USE_BATCH_GAP_MS = 20;
/** How long after a fan-out its devices' `last_success_at` is written. */
const USE_FLUSH_DELAY_MS = 2_000;

/**
 * `last_success_at` (settings shows it, "last reached"), written behind the fan-outs: a
 * device reached again within the hour is not written again (remembered here, and the
 * statement's own condition on other web nodes); the rest waits a couple of seconds and
 * goes out in statements of 50 with a pause between them. On PGlite every statement holds
 * the web node's main thread, and an UPDATE of a thousand rows at the moment of a fan-out
 * held up every other room's sends.
 */
export class SubscriptionUseRecorder {
  /** Devices written (or found fresh) at this time, ms; dropped once older than the hour. */
  private readonly written = new Map<string, number>();
  private pending = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(
    private readonly db: () => Queryable,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** These devices were reached now. */
  record(ids: Iterable<string>): void {
    const fresh = Date.now() - LAST_SUCCESS_PRECISION_MS;
    for (const id of ids) if ((this.written.get(id) ?? 0) <= fresh) this.pending.add(id);
    if (this.pending.size > 0 && !this.timer && !this.flushing) {
      this.timer = setTimeout(() => void this.flush(), USE_FLUSH_DELAY_MS);
      this.timer.unref();
    }
  }

  /** Writes what is pending now (and waits for a write under way). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    this.flushing = this.write().finally(() => {
      this.flushing = null;
      // Recorded while writing: the next round.
      if (this.pending.size > 0) this.record([]);
    });
    await this.flushing;
  }

  private async write(): Promise<void> {
    const ids = [...this.pending];
    this.pending = new Set();
    const now = new Date();
    for (const [id, at] of this.written)
      if (at <= now.getTime() - LAST_SUCCESS_PRECISION_MS) this.written.delete(id);
    for (let i = 0; i < ids.length; i += USE_BATCH) {
      if (i > 0) await sleep(USE_BATCH_GAP_MS);
      const batch = ids.slice(i, i + USE_BATCH);
      try {
        await markSubscriptionsUsed(this.db(), batch, now);
        for (const id of batch) this.written.set(id, now.getTime());
      } catch (err) {
        // A lost "last reached" time is not worth a retry loop: the next push writes it.
        this.onError(err);
      }
    }
  }
}

/** Whose display name (or a word in it) starts with `q`; an empty `q` matches everyone. */
function nameStarts(displayName: SQL, q: string): SQL {
  const prefix = q
    .trim()
    .toLowerCase()
    .replace(/[\\%_]/g, (c) => `\\${c}`);
  return sql`(${prefix} = '' or lower(${displayName}) like ${prefix + "%"}
              or lower(${displayName}) like ${"% " + prefix + "%"})`;
}

/** Members of a room whose display name (or a word in it) starts with `q`, by name. */
export async function searchMembers(
  db: Queryable,
  roomId: string,
  q: string,
  limit: number,
): Promise<{ userId: string; displayName: string }[]> {
  return queryRows<{ userId: string; displayName: string }>(
    db,
    sql`select u.id as "userId", u.display_name as "displayName"
        from room_members rm join users u on u.id = rm.user_id
        where rm.room_id = ${roomId} and ${nameStarts(sql`u.display_name`, q)}
        order by lower(u.display_name), u.id
        limit ${limit}`,
  );
}

/**
 * The people you share a room with (you aside) whose display name (or a word in it) starts
 * with `q`, by name: whom you can open a direct conversation with (`doOpenDirectRoom`'s rule).
 */
export async function searchPeople(
  db: Queryable,
  userId: string,
  q: string,
  limit: number,
): Promise<{ userId: string; displayName: string }[]> {
  return queryRows<{ userId: string; displayName: string }>(
    db,
    sql`select u.id as "userId", u.display_name as "displayName" from users u
        where u.id <> ${userId} and ${nameStarts(sql`u.display_name`, q)}
          and exists (
            select 1 from room_members a join room_members b on a.room_id = b.room_id
            where a.user_id = ${userId} and b.user_id = u.id)
        order by lower(u.display_name), u.id
        limit ${limit}`,
  );
}

/**
 * Claims the ring of a call starting in a room: true for exactly one caller of this, on
 * any web node, per `againAfterMs` (a conditional write, atomic on Postgres and PGlite), so
 * a start rings once and a caller's reconnect soon after rings no one again.
 */
export async function claimCallRing(
  db: Queryable,
  roomId: string,
  againAfterMs: number,
): Promise<boolean> {
  const rows = await queryRows(
    db,
    sql`insert into call_rings (room_id, rung_at) values (${roomId}, now())
        on conflict (room_id) do update set rung_at = excluded.rung_at
        where call_rings.rung_at <= now() - make_interval(secs => ${againAfterMs / 1000})
        returning room_id`,
  );
  return rows.length > 0;
}
