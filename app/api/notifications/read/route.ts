import { and, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import { roomMembers } from "@/lib/db/schema";
import { route } from "@/lib/server/route";
import { db } from "@/lib/server/runtime";

const readQuerySchema = z.object({
  roomIds: z
    .string()
    .transform((s) => s.split(",").filter(Boolean))
    .pipe(z.array(z.uuid("That is not a room id")).min(1).max(100, "At most 100 rooms")),
});

/**
 * How far you have read each of these rooms (on any device): the service worker closes the
 * notifications of messages already read (public/sw.js). Rooms you are not in are left out.
 */
export const GET = route({ input: readQuerySchema }, async ({ user, input }) => {
  const rows = await db()
    .select({ roomId: roomMembers.roomId, lastReadSeq: roomMembers.lastReadSeq })
    .from(roomMembers)
    .where(and(eq(roomMembers.userId, user.id), inArray(roomMembers.roomId, input.roomIds)));
  return { read: Object.fromEntries(rows.map((r) => [r.roomId, r.lastReadSeq])) };
});
