import { z } from "zod";
import { passkeyNameSchema, removePasskey, renamePasskey } from "@/lib/auth/passkeys";
import { route } from "@/lib/server/route";
import { db } from "@/lib/server/runtime";

type Params = { id: string };

/** Renames one of your passkeys. */
const renameSchema = z.object({ name: passkeyNameSchema });

export const PATCH = route<Params, typeof renameSchema>(
  { input: renameSchema },
  async ({ user, input, params }) => ({
    passkey: await renamePasskey(db(), user.id, params.id, input.name),
  }),
);

/** Removes one of your passkeys (never the last way into the account). */
export const DELETE = route<Params>({}, async ({ user, params }) => {
  await removePasskey(db(), user.id, params.id);
  return { ok: true };
});
