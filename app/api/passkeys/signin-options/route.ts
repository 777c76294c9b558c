import { authLimits } from "@/lib/auth/limits";
import { beginAuthentication, passkeyConfig } from "@/lib/auth/passkeys";
import { clientAddressKey } from "@/lib/server/client-address";
import { route } from "@/lib/server/route";
import { db } from "@/lib/server/runtime";

/**
 * Starts a passkey sign-in: options for the browser's `startAuthentication` (a button, or
 * the email field's autofill). The answer goes to NextAuth's `passkey` provider. Each call
 * stores a challenge, so it counts against the sign-in limit per address.
 */
export const POST = route({ public: true }, async ({ req }) => {
  await authLimits().signIn.consume(clientAddressKey(req));
  const { rp, settings } = passkeyConfig(req.headers.get("host"));
  return { options: await beginAuthentication(db(), rp, settings) };
});
