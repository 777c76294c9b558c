import { notFound } from "@/lib/errors";
import { searchMembers } from "@/lib/notify/service";
import { accessRoomBySlug } from "@/lib/rooms/access";
import { personQuerySchema } from "@/lib/rooms/schemas";
import { route } from "@/lib/server/route";
import { db } from "@/lib/server/runtime";

/** The room's members whose names start with `q`: the composer's `@` autocomplete. */
export const GET = route<{ slug: string }, typeof personQuerySchema>(
  { input: personQuerySchema },
  async ({ user, params, input }) => {
    const access = await accessRoomBySlug(db(), params.slug, user.id);
    if (!access) throw notFound("There is no such room");
    return { members: await searchMembers(db(), access.room.id, input.q, input.limit) };
  },
);
