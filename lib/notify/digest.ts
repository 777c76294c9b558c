import "server-only";
import { sql } from "drizzle-orm";
import type { Transporter } from "nodemailer";
import { messagePath } from "@/lib/chat/permalink";
import type { Queryable } from "@/lib/db/client";
import { queryRows } from "@/lib/db/sql";
import { mentionsRoomSql, mentionsUserSql } from "./mentions-sql";
import { plainPreview } from "./schemas";

/** Messages mailed per person per digest, at most; the rest wait for the next one. */
const MAX_ITEMS = 50;

interface Row extends Record<string, unknown> {
  user_id: string;
  email: string;
  user_name: string;
  room_id: string;
  room_name: string;
  slug: string;
  seq: number | string;
  body: string;
  author_name: string;
  /** The room's `emailed_seq` when read: what the claim compares against. */
  emailed_seq: number | string;
}

export interface DigestOptions {
  transport: Pick<Transporter, "sendMail">;
  from: string;
  /** Where the links in the mail point (PUBLIC_URL). */
  baseUrl: string;
  /** Only messages unread for at least this long are mailed. */
  delayMs: number;
  now?: Date;
}

/**
 * The email for what you missed: mentions (and @room) and direct messages still unread
 * `delayMs` after they were sent are mailed, one digest per person, with a link that opens
 * each message; each is mailed once (`room_notify_settings.emailed_seq`, claimed before the
 * mail is sent, so also with several web nodes). Not for guests
 * (no address), people who turned it off, muted rooms or rooms set to nothing. Returns who
 * was mailed.
 */
export async function sendDigests(db: Queryable, options: DigestOptions): Promise<string[]> {
  const cutoff = new Date((options.now ?? new Date()).getTime() - options.delayMs);
  const rows = await queryRows<Row>(
    db,
    sql`select u.id as user_id, u.email, u.display_name as user_name,
               r.id as room_id, r.name as room_name, r.slug, m.seq, m.body,
               a.display_name as author_name, coalesce(s.emailed_seq, 0) as emailed_seq
        from room_members rm
        join users u on u.id = rm.user_id and u.email is not null and not u.is_guest
        join rooms r on r.id = rm.room_id
        left join room_notify_settings s on s.room_id = rm.room_id and s.user_id = rm.user_id
        left join notify_prefs p on p.user_id = rm.user_id
        join messages m on m.room_id = rm.room_id
          and m.seq > greatest(rm.last_read_seq, coalesce(s.emailed_seq, 0))
        join users a on a.id = m.author_id
        where coalesce(p.email_digest, true)
          and not coalesce(s.muted, false)
          and coalesce(s.level::text, '') <> 'nothing'
          and m.author_id <> rm.user_id and m.deleted_at is null
          and m.created_at <= ${cutoff.toISOString()}::timestamptz
          and (r.kind = 'direct'
               or ${mentionsUserSql(sql`m.body`, sql`rm.user_id`)}
               or ${mentionsRoomSql(sql`m.body`)})
        order by u.id, r.name, m.seq
        limit 5000`,
  );
  const byUser = new Map<string, Row[]>();
  for (const row of rows) {
    const list = byUser.get(row.user_id) ?? [];
    list.push(row);
    byUser.set(row.user_id, list);
  }
  const mailed: string[] = [];
  for (const [userId, all] of byUser) {
    // Claim each room's messages before mailing them: with several web nodes looking at the
    // same minute, exactly one wins each room (the others' claims find emailed_seq moved).
    const claims = new Map<string, { from: number; to: number }>();
    for (const r of all.slice(0, MAX_ITEMS)) {
      const claim = claims.get(r.room_id) ?? { from: Number(r.emailed_seq), to: 0 };
      claim.to = Math.max(claim.to, Number(r.seq));
      claims.set(r.room_id, claim);
    }
    const won = new Map<string, { from: number; to: number }>();
    for (const [roomId, claim] of claims) {
      if (await claimEmailed(db, userId, roomId, claim.from, claim.to)) won.set(roomId, claim);
    }
    const items = all.slice(0, MAX_ITEMS).filter((r) => won.has(r.room_id));
    if (items.length === 0) continue;
    const link = (r: Row) =>
      new URL(messagePath(r.slug, Number(r.seq)), options.baseUrl).toString();
    const lines = items.map(
      (r) => `${r.room_name} — ${r.author_name}: ${plainPreview(r.body, 200)}\n${link(r)}`,
    );
    const html = items
      .map(
        (r) =>
          `<li><strong>${escapeHtml(r.room_name)}</strong> — ${escapeHtml(r.author_name)}: ${escapeHtml(plainPreview(r.body, 200))}<br><a href="${escapeHtml(link(r))}">Open the message</a></li>`,
      )
      .join("");
    const count = items.length;
    try {
      await options.transport.sendMail({
        from: options.from,
        to: items[0]!.email,
        subject: `${count} ${count === 1 ? "message" : "messages"} for you in Parley`,
        text: `Hi ${items[0]!.user_name},\n\nWhile you were away:\n\n${lines.join("\n\n")}\n\nTurn these emails off in Parley's settings.\n`,
        html: `<p>Hi ${escapeHtml(items[0]!.user_name)},</p><p>While you were away:</p><ul>${html}</ul><p>Turn these emails off in Parley's settings.</p>`,
      });
    } catch (err) {
      // Not mailed: give the claims back, so the next round tries again.
      for (const [roomId, claim] of won) await releaseEmailed(db, userId, roomId, claim);
      throw err;
    }
    mailed.push(userId);
  }
  return mailed;
}

/**
 * Moves a room's `emailed_seq` for a person from `from` to `to`, only if it is still
 * `from`: a conditional write, atomic on Postgres and PGlite alike, so of several web nodes
 * digesting at once exactly one gets each room's messages. Whether this call won.
 */
async function claimEmailed(
  db: Queryable,
  userId: string,
  roomId: string,
  from: number,
  to: number,
): Promise<boolean> {
  const rows = await queryRows(
    db,
    sql`insert into room_notify_settings (room_id, user_id, emailed_seq)
        values (${roomId}, ${userId}, ${to})
        on conflict (room_id, user_id) do update set emailed_seq = excluded.emailed_seq
        where room_notify_settings.emailed_seq = ${from}
        returning room_id`,
  );
  return rows.length > 0;
}

/** Undoes a claim whose mail could not be sent (unless something moved it since). */
async function releaseEmailed(
  db: Queryable,
  userId: string,
  roomId: string,
  claim: { from: number; to: number },
): Promise<void> {
  await db.execute(sql`
    update room_notify_settings set emailed_seq = ${claim.from}
    where room_id = ${roomId} and user_id = ${userId} and emailed_seq = ${claim.to}`);
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
