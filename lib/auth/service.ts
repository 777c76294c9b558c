import "server-only";
import { and, eq, sql } from "drizzle-orm";
import type { Server } from "socket.io";
import type { Db } from "@/lib/db/client";
import { users } from "@/lib/db/schema";
import { AppError } from "@/lib/errors";
import { channel } from "@/lib/realtime/protocol";
import { decoyHash, hashPassword, verifyPassword } from "./password";
import type { CreateAccountInput, SessionUser } from "./schemas";

type UserRow = typeof users.$inferSelect;

export function toSessionUser(row: UserRow): SessionUser {
  return { id: row.id, displayName: row.displayName, email: row.email, isGuest: row.isGuest };
}

/** Input is already parsed by createAccountSchema. */
export async function doCreateAccount(db: Db, input: CreateAccountInput): Promise<SessionUser> {
  const passwordHash = await hashPassword(input.password);
  const [row] = await db
    .insert(users)
    .values({ email: input.email, displayName: input.displayName, passwordHash })
    .onConflictDoNothing({ target: users.email })
    .returning();
  if (!row) throw new AppError("conflict", "An account with that email already exists");
  return toSessionUser(row);
}

export async function doCreateGuest(db: Db, displayName: string): Promise<SessionUser> {
  const [row] = await db.insert(users).values({ displayName, isGuest: true }).returning();
  if (!row) throw new Error("insert returned no row");
  return toSessionUser(row);
}

/**
 * The user for these credentials and the session version a new session gets, or null;
 * takes as long for an unknown email.
 */
export async function authenticate(
  db: Db,
  email: string,
  password: string,
): Promise<{ user: SessionUser; sessionVersion: number } | null> {
  const [row] = await db.select().from(users).where(eq(users.email, email)).limit(1);
  if (!row?.passwordHash) {
    await verifyPassword(await decoyHash(), password);
    return null;
  }
  return (await verifyPassword(row.passwordHash, password))
    ? { user: toSessionUser(row), sessionVersion: row.sessionVersion }
    : null;
}

/**
 * The user a session belongs to, or null when the user is gone or the session was signed
 * in before their last `Sign out everywhere` (its version is older). One query, as before.
 */
export async function findSessionUser(
  db: Db,
  id: string,
  sessionVersion: number,
): Promise<SessionUser | null> {
  const [row] = await db
    .select()
    .from(users)
    .where(and(eq(users.id, id), eq(users.sessionVersion, sessionVersion)))
    .limit(1);
  return row ? toSessionUser(row) : null;
}

/**
 * Sign out everywhere: every session of the user stops working (each device must sign in
 * again; HTTP requests and socket handshakes check the version), and the sockets they have
 * open, on any node, are closed now.
 */
export async function doSignOutEverywhere(db: Db, io: Server, userId: string): Promise<void> {
  await db
    .update(users)
    .set({ sessionVersion: sql`${users.sessionVersion} + 1` })
    .where(eq(users.id, userId));
  io.in(channel.user(userId)).disconnectSockets(true);
}
