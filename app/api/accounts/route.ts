import { createAccountSchema } from "@/lib/auth/schemas";
import { doCreateAccount } from "@/lib/auth/service";
import { db } from "@/lib/server/runtime";
import { route } from "@/lib/server/route";

/** Creates an account; the client then signs in with the same credentials. */
export const POST = route({ public: true, input: createAccountSchema }, async ({ input }) => {
  const user = await doCreateAccount(db(), input);
  return { user: { id: user.id, displayName: user.displayName } };
});
