import { z } from "zod";
import {
  finishRegistration,
  listPasskeys,
  passkeyConfig,
  passkeyNameSchema,
  registrationResponseSchema,
} from "@/lib/auth/passkeys";
import { route } from "@/lib/server/route";
import { db } from "@/lib/server/runtime";

/** Your passkeys, oldest first. */
export const GET = route({}, async ({ user }) => ({ passkeys: await listPasskeys(db(), user.id) }));

/**
 * Adds a passkey: the browser's answer to the options from POST /api/passkeys/options. A
 * guest who adds one becomes an account and keeps everything it had.
 */
export const POST = route(
  {
    input: z.object({ response: registrationResponseSchema, name: passkeyNameSchema.optional() }),
  },
  async ({ req, user, input }) => {
    const { rp } = passkeyConfig(req.headers.get("host"));
    const passkey = await finishRegistration(db(), user, rp, input.response, input.name);
    return { passkey };
  },
);
