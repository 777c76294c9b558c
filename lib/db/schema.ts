import { getTableColumns, sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  customType,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

/**
 * The database schema. Design notes: docs/architecture.md ("Data" and "Chat delivery").
 * Sequence numbers are bigint in SQL and JS numbers here: 2^53 events per room is enough.
 */

/** Postgres' full-text document type (drizzle has no built-in for it). */
const tsvector = customType<{ data: string }>({ dataType: () => "tsvector" });

/**
 * The text search configuration of the search index and of every query against it
 * (lib/search). 'simple' lower-cases words and nothing else: no stemming and no stop
 * words, so it treats every language alike (docs/architecture.md, "Search").
 */
export const SEARCH_CONFIG = "simple";
/** SEARCH_CONFIG as SQL: a constant, so the index's expression and the queries' agree. */
export const searchConfig = sql.raw(`'${SEARCH_CONFIG}'::regconfig`);

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /** Lower-cased; null for guests. */
    email: text("email"),
    displayName: text("display_name").notNull(),
    passwordHash: text("password_hash"),
    isGuest: boolean("is_guest").notNull().default(false),
    /**
     * Sessions carry the version they were signed in at; `Sign out everywhere` bumps it, so
     * every session signed in before stops working at once (lib/auth/sessions.ts).
     */
    sessionVersion: integer("session_version").notNull().default(0),
    createdAt: createdAt(),
    /**
     * Set when the account was deleted (lib/auth/account.ts): the row stays, emptied, so
     * the rooms' event logs keep pointing somewhere; nothing can sign in as it.
     */
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  },
  (t) => [uniqueIndex("users_email_key").on(t.email)],
);

/**
 * A person's passkeys (WebAuthn credentials, lib/auth/passkeys.ts). The id is the
 * credential id (base64url); the public key is the COSE key the authenticator made. The
 * signature counter and the backup flags are kept as the last assertion reported them.
 */
export const passkeys = pgTable(
  "passkeys",
  {
    id: text("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** COSE public key, base64url. */
    publicKey: text("public_key").notNull(),
    counter: bigint("counter", { mode: "number" }).notNull().default(0),
    /** Transports the browser reported (usb, internal, hybrid, …), as hints for sign-in. */
    transports: jsonb("transports").$type<string[]>().notNull().default([]),
    /** "singleDevice" or "multiDevice" (a synced passkey). */
    deviceType: text("device_type").notNull(),
    backedUp: boolean("backed_up").notNull(),
    /** What the person calls it in settings. */
    name: text("name").notNull(),
    createdAt: createdAt(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
  },
  (t) => [index("passkeys_user_idx").on(t.userId)],
);

/**
 * Outstanding WebAuthn challenges: one row per ceremony begun, deleted by the first
 * verification that reads it (so a challenge answers once) and useless after expires_at.
 * user_id is set for adding a passkey (the challenge belongs to that account) and null for
 * signing in (no one is known yet).
 */
export const webauthnChallenges = pgTable(
  "webauthn_challenges",
  {
    challenge: text("challenge").primaryKey(),
    purpose: text("purpose").notNull(),
    userId: uuid("user_id").references(() => users.id, { onDelete: "cascade" }),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (t) => [index("webauthn_challenges_expires_idx").on(t.expiresAt)],
);

export const roomKind = pgEnum("room_kind", ["open", "private", "direct"]);

export const rooms = pgTable(
  "rooms",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /** The unguessable part of the room's link, /r/<slug>. */
    slug: text("slug").notNull(),
    name: text("name").notNull(),
    kind: roomKind("kind").notNull().default("open"),
    /** For private rooms: the token an invite link carries. */
    inviteToken: text("invite_token"),
    /** The last sequence number handed out in this room's event log. */
    lastSeq: bigint("last_seq", { mode: "number" }).notNull().default(0),
    createdBy: uuid("created_by").references(() => users.id, { onDelete: "set null" }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("rooms_slug_key").on(t.slug)],
);

export const memberRole = pgEnum("member_role", ["owner", "member", "guest"]);

export const roomMembers = pgTable(
  "room_members",
  {
    roomId: uuid("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: memberRole("role").notNull(),
    /** The highest seq this user has seen in this room, on any device. */
    lastReadSeq: bigint("last_read_seq", { mode: "number" }).notNull().default(0),
    joinedAt: timestamp("joined_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.roomId, t.userId] }),
    index("room_members_user_idx").on(t.userId),
  ],
);

/**
 * People an owner removed from a room. Removal deletes the membership; this row is what
 * refuses the person's rejoining by the room's link afterwards (lib/rooms/service.ts).
 */
export const roomRemovals = pgTable(
  "room_removals",
  {
    roomId: uuid("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    removedBy: uuid("removed_by").references(() => users.id, { onDelete: "set null" }),
    removedAt: timestamp("removed_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] })],
);

export const messages = pgTable(
  "messages",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    roomId: uuid("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    authorId: uuid("author_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** Made by the sending client; a retried send with the same id returns this row. */
    clientId: uuid("client_id").notNull(),
    /** The seq of the event that created the message: its place in the room's order. */
    seq: bigint("seq", { mode: "number" }).notNull(),
    body: text("body").notNull(),
    replyToId: uuid("reply_to_id"),
    /**
     * The names of the files the message shares, one a line: written with the message (a
     * message's files never change while it lives), so the search document below can
     * include them.
     */
    fileNames: text("file_names").notNull().default(""),
    createdAt: createdAt(),
    editedAt: timestamp("edited_at", { withTimezone: true }),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
    /**
     * What search matches (lib/search): the body, then the file names — whole, and split
     * at the dots, dashes and underscores file names are made of. Generated, so an edit
     * re-indexes and a deletion (body and names emptied) un-indexes in the same statement.
     */
    search: tsvector("search").generatedAlwaysAs(
      sql`setweight(to_tsvector(${searchConfig}, body), 'A') || setweight(to_tsvector(${searchConfig}, file_names || ' ' || translate(file_names, '._-', '   ')), 'B')`,
    ),
  },
  (t) => [
    uniqueIndex("messages_room_client_key").on(t.roomId, t.clientId),
    uniqueIndex("messages_room_seq_key").on(t.roomId, t.seq),
    index("messages_search_idx").using("gin", t.search),
    // Search newest first across rooms: walked backwards until a page of matches is found,
    // when the words are common (lib/search/service.ts).
    index("messages_created_at_idx").on(t.createdAt),
  ],
);

/**
 * The columns of `messages` readers select: all but the search document, which only search
 * matches against (lib/search) and which would cost every history read its size.
 */
export const messageColumns = (({ search: _search, ...rest }) => rest)(getTableColumns(messages));

export const reactions = pgTable(
  "reactions",
  {
    messageId: uuid("message_id")
      .notNull()
      .references(() => messages.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    emoji: text("emoji").notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.messageId, t.userId, t.emoji] })],
);

/**
 * A file shared in a room. Uploaded first (message_id null), then attached to the message
 * that shares it, in the same transaction that creates the message. The bytes live in the
 * storage backend under storage_key, encrypted (lib/files). Owned by lib/files.
 */
export const attachments = pgTable(
  "attachments",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    roomId: uuid("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    uploaderId: uuid("uploader_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    messageId: uuid("message_id").references(() => messages.id, { onDelete: "set null" }),
    /** Sanitised display name; never used as a path. */
    name: text("name").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
    /** Sniffed from the content, not taken from the client. */
    mimeType: text("mime_type").notNull(),
    storageKey: text("storage_key").notNull(),
    thumbnailKey: text("thumbnail_key"),
    width: integer("width"),
    height: integer("height"),
    createdAt: createdAt(),
  },
  (t) => [
    index("attachments_room_idx").on(t.roomId),
    index("attachments_message_idx").on(t.messageId),
    // A user's storage in use (lib/files/quota.ts).
    index("attachments_uploader_idx").on(t.uploaderId),
  ],
);

/**
 * The room's event log: every change a client must apply (message created, edited,
 * deleted, reactions changed, room renamed) with a gapless per-room seq. Message events
 * point at the message; readers send its state as of the read, so applying an event is an
 * upsert and a replayed log always converges on what a fresh fetch returns.
 */
export const roomEvents = pgTable(
  "room_events",
  {
    roomId: uuid("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    seq: bigint("seq", { mode: "number" }).notNull(),
    type: text("type").notNull(),
    actorId: uuid("actor_id"),
    messageId: uuid("message_id").references(() => messages.id, { onDelete: "cascade" }),
    /** Data for events about the room itself (e.g. its new name). */
    payload: jsonb("payload"),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.seq] })],
);

/**
 * A device's Web Push subscription (RFC 8030): where the browser's push service accepts
 * messages for it, and its keys for the payload encryption (RFC 8291). A push service's
 * 404/410 deletes the row (lib/notify/push.ts).
 */
export const pushSubscriptions = pgTable(
  "push_subscriptions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    endpoint: text("endpoint").notNull(),
    /** The browser's P-256 public key, base64url (65 bytes uncompressed). */
    p256dh: text("p256dh").notNull(),
    /** The browser's 16-byte authentication secret, base64url. */
    auth: text("auth").notNull(),
    /** What the person sees in settings to tell devices apart (browser and OS). */
    label: text("label").notNull(),
    createdAt: createdAt(),
    lastSuccessAt: timestamp("last_success_at", { withTimezone: true }),
  },
  (t) => [
    uniqueIndex("push_subscriptions_endpoint_key").on(t.endpoint),
    index("push_subscriptions_user_idx").on(t.userId),
  ],
);

export const notifyLevel = pgEnum("notify_level", ["all", "mentions", "nothing"]);

/**
 * What reaches a person from one room: absent means the default (direct conversations
 * `all`, rooms `mentions`). Kept apart from room_members so membership stays what it is.
 */
export const roomNotifySettings = pgTable(
  "room_notify_settings",
  {
    roomId: uuid("room_id")
      .notNull()
      .references(() => rooms.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    level: notifyLevel("level"),
    muted: boolean("muted").notNull().default(false),
    /** The highest seq already mailed in a digest (lib/notify/digest.ts). */
    emailedSeq: bigint("emailed_seq", { mode: "number" }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] })],
);

/** A person's notification switches that hold across rooms and devices. */
export const notifyPrefs = pgTable("notify_prefs", {
  userId: uuid("user_id")
    .primaryKey()
    .references(() => users.id, { onDelete: "cascade" }),
  /** Do not disturb until then (null: off). */
  dndUntil: timestamp("dnd_until", { withTimezone: true }),
  /** Pushes say only "New message", not what it says. */
  privacy: boolean("privacy").notNull().default(false),
  /** Unread mentions and direct messages are mailed (when SMTP_URL is set). */
  emailDigest: boolean("email_digest").notNull().default(true),
});

/**
 * When a room's call last rang its members (lib/notify/node.ts): a start rings once, and a
 * caller's reconnect within a minute does not ring again, whichever web node it lands on.
 */
export const callRings = pgTable("call_rings", {
  roomId: uuid("room_id")
    .primaryKey()
    .references(() => rooms.id, { onDelete: "cascade" }),
  rungAt: timestamp("rung_at", { withTimezone: true }).notNull(),
});

export const schema = {
  users,
  rooms,
  roomMembers,
  roomRemovals,
  messages,
  reactions,
  attachments,
  roomEvents,
  pushSubscriptions,
  roomNotifySettings,
  notifyPrefs,
  callRings,
  passkeys,
  webauthnChallenges,
};
