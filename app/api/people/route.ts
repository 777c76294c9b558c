import { searchPeople } from "@/lib/notify/service";
import { personQuerySchema } from "@/lib/rooms/schemas";
import { route } from "@/lib/server/route";
import { db } from "@/lib/server/runtime";

/** People you share a room with whose names start with `q`: the quick switcher's people. */
export const GET = route({ input: personQuerySchema }, async ({ user, input }) => ({
  people: await searchPeople(db(), user.id, input.q, input.limit),
}));
