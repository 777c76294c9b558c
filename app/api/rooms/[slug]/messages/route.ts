import { historyQuerySchema } from "@/lib/chat/schemas";
import { loadHistoryPage } from "@/lib/chat/views";
import { notFound } from "@/lib/errors";
import { accessRoomBySlug } from "@/lib/rooms/access";
import { db } from "@/lib/server/runtime";
import { route } from "@/lib/server/route";

/** A page of the room's history, by seq cursor: `?before=<seq>&limit=<n>`. */
export const GET = route<{ slug: string }, typeof historyQuerySchema>(
  { input: historyQuerySchema },
  async ({ user, input, params }) => {
    const access = await accessRoomBySlug(db(), params.slug, user.id);
    if (!access) throw notFound("There is no such room");
    return loadHistoryPage(db(), access.room.id, input);
  },
);
