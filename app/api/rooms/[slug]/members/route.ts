import { z } from "zod";
import { notFound } from "@/lib/errors";
import { searchMembers } from "@/lib/notify/service";
import { accessRoomBySlug } from "@/lib/rooms/access";
import { route } from "@/lib/server/route";
import { db } from "@/lib/server/runtime";

const memberQuerySchema = z.object({
  /** The start of a display name (or of any word in it); empty lists the first members. */
  q: z.string().max(80, "Search for at most 80 characters").default(""),
  limit: z.coerce.number().int().min(1).max(20).default(8),
});

/** The room's members whose names start with `q`: the composer's `@` autocomplete. */
export const GET = route<{ slug: string }, typeof memberQuerySchema>(
  { input: memberQuerySchema },
  async ({ user, params, input }) => {
    const access = await accessRoomBySlug(db(), params.slug, user.id);
    if (!access) throw notFound("There is no such room");
    return { members: await searchMembers(db(), access.room.id, input.q, input.limit) };
  },
);
