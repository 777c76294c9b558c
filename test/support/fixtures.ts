import type { SessionUser } from "@/lib/auth/schemas";
import { doCreateAccount, doCreateGuest } from "@/lib/auth/service";
import type { Db } from "@/lib/db/client";

let counter = 0;

/** A new account with a unique email. */
export function createUser(db: Db, displayName = "Ada"): Promise<SessionUser> {
  counter += 1;
  return doCreateAccount(db, {
    email: `user${counter}-${crypto.randomUUID().slice(0, 8)}@example.test`,
    password: "correct horse battery",
    displayName,
  });
}

export function createGuest(db: Db, displayName = "Guest"): Promise<SessionUser> {
  return doCreateGuest(db, displayName);
}
