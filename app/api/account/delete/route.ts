import { z } from "zod";
import { disconnectUser, doDeleteAccount } from "@/lib/auth/account";
import { route } from "@/lib/server/route";
import { db, runtime, service } from "@/lib/server/runtime";

/**
 * Deletes your account (lib/auth/account.ts says what goes and what stays), then removes
 * your files' stored bytes and closes your sockets. Your password is asked for when the
 * account has one.
 */
export const POST = route(
  { input: z.object({ password: z.string().max(256).optional() }) },
  async ({ user, input }) => {
    const { storageKeys } = await doDeleteAccount(db(), user.id, input.password);
    disconnectUser(runtime().io, user.id);
    const { storage } = service("files");
    for (const key of storageKeys) {
      // Left behind on failure: the files sweep removes objects no row names.
      await storage.remove(key).catch(() => {});
    }
    return { ok: true };
  },
);
