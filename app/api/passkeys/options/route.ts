import { beginRegistration, passkeyConfig } from "@/lib/auth/passkeys";
import { route } from "@/lib/server/route";
import { db } from "@/lib/server/runtime";

/** Starts adding a passkey: options for the browser's `startRegistration`. */
export const POST = route({}, async ({ req, user }) => {
  const { rp, settings } = passkeyConfig(req.headers.get("host"));
  return { options: await beginRegistration(db(), user, rp, settings) };
});
