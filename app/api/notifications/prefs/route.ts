import { prefsSchema } from "@/lib/notify/schemas";
import { doUpdatePrefs, getPrefs } from "@/lib/notify/service";
import { route } from "@/lib/server/route";
import { db } from "@/lib/server/runtime";

/** Your do-not-disturb, privacy and email switches. */
export const GET = route({}, async ({ user }) => getPrefs(db(), user.id));

export const PATCH = route({ input: prefsSchema }, async ({ user, input }) =>
  doUpdatePrefs(db(), user.id, input),
);
