import { NextResponse } from "next/server";
import { z } from "zod";
import { doChangePassword } from "@/lib/auth/account";
import { passwordSchema } from "@/lib/auth/schemas";
import { renewedSessionCookie } from "@/lib/auth/session";
import { route } from "@/lib/server/route";
import { db, runtime } from "@/lib/server/runtime";

const input = z.object({
  currentPassword: z.string().min(1, "Enter your current password").max(256),
  newPassword: passwordSchema,
});

/**
 * Changes your password. Every other session of yours ends (the session version moves on,
 * open sockets close); this browser gets a new session at the new version and goes on.
 */
export const POST = route({ input }, async ({ req, user, input }) => {
  const version = await doChangePassword(db(), runtime().io, user.id, input);
  const res = NextResponse.json({ ok: true });
  const cookie = await renewedSessionCookie(req, user, version);
  if (cookie) res.headers.append("set-cookie", cookie);
  return res;
});
