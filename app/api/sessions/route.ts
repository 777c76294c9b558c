import { doSignOutEverywhere } from "@/lib/auth/service";
import { route } from "@/lib/server/route";
import { db, runtime } from "@/lib/server/runtime";

/**
 * Sign out everywhere: every session of yours, on every device, stops working at once
 * (this one too; the browser then clears its cookie), and your open sockets are closed.
 */
export const DELETE = route({}, async ({ user }) => {
  await doSignOutEverywhere(db(), runtime().io, user.id);
  return { ok: true };
});
