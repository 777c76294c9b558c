import { z } from "zod";
import { doUpgradeGuest } from "@/lib/auth/account";
import { authLimits } from "@/lib/auth/limits";
import { emailSchema, passwordSchema } from "@/lib/auth/schemas";
import { clientAddressKey } from "@/lib/server/client-address";
import { route } from "@/lib/server/route";
import { db } from "@/lib/server/runtime";

/**
 * A guest becomes an account with an email and password, keeping its rooms and history;
 * this session goes on. Counted against account creation per address.
 */
export const POST = route(
  { input: z.object({ email: emailSchema, password: passwordSchema }) },
  async ({ req, user, input }) => {
    await authLimits().signUp.consume(clientAddressKey(req));
    const upgraded = await doUpgradeGuest(db(), user.id, input);
    return { user: { id: upgraded.id, displayName: upgraded.displayName, isGuest: false } };
  },
);
