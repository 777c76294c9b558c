import "server-only";
import { eq } from "drizzle-orm";
import type { Db } from "@/lib/db/client";
import { users } from "@/lib/db/schema";
import { AppError } from "@/lib/errors";
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

/** The user for these credentials, or null; takes as long for an unknown email. */
export async function authenticate(
  db: Db,
  email: string,
  password: string,
): Promise<SessionUser | null> {
  const [row] = await db.select().from(users).where(eq(users.email, email)).limit(1);
  if (!row?.passwordHash) {
    await verifyPassword(await decoyHash(), password);
    return null;
  }
  return (await verifyPassword(row.passwordHash, password)) ? toSessionUser(row) : null;
}

export async function findUser(db: Db, id: string): Promise<SessionUser | null> {
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  return row ? toSessionUser(row) : null;
}
