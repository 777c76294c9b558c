import { authLimits } from "@/lib/auth/limits";
import { createAccountSchema } from "@/lib/auth/schemas";
import { doCreateAccount } from "@/lib/auth/service";
import { clientAddressKey } from "@/lib/server/client-address";
import { db } from "@/lib/server/runtime";
import { route } from "@/lib/server/route";

/**
 * Creates an account; the client then signs in with the same credentials. Rate-limited per
 * client address; an email already taken is said so (docs/architecture.md, "Accounts and
 * sessions", says why).
 */
export const POST = route({ public: true, input: createAccountSchema }, async ({ req, input }) => {
  await authLimits().signUp.consume(clientAddressKey(req));
  const user = await doCreateAccount(db(), input);
  return { user: { id: user.id, displayName: user.displayName } };
});
