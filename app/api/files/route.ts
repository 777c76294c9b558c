import { notFound } from "@/lib/errors";
import { queryRoomFiles } from "@/lib/files/queries";
import { roomFilesQuerySchema } from "@/lib/files/schemas";
import { files } from "@/lib/files/service";
import { route } from "@/lib/server/route";

/**
 * GET /api/files?room=<slug>[&before=<cursor>]: the room's Files view, newest first, and
 * for the room's owner how much storage the room uses.
 */
export const GET = route<Record<string, never>, typeof roomFilesQuerySchema>(
  { input: roomFilesQuerySchema },
  async ({ user, input }) => {
    const result = await queryRoomFiles(files().db, user, input.room, input.before ?? null);
    if (!result) throw notFound("There is no such room");
    return result;
  },
);
