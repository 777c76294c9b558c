import { mkdir } from "node:fs/promises";
import { eq, sum } from "drizzle-orm";
import { attachments } from "@/lib/db/schema";
import { forbidden, notFound } from "@/lib/errors";
import { archiveName, roomExport } from "@/lib/export/archive";
import { exportDeps, tarResponse } from "@/lib/export/http";
import { accessRoomBySlug, canManageRoom } from "@/lib/rooms/access";
import { route } from "@/lib/server/route";

/**
 * `Export room` (its owner only): the conversation as readable HTML and as JSON Lines, and
 * every file shared in it, as one streamed tar.
 */
export const GET = route<{ slug: string }>({}, async ({ user, params }) => {
  const deps = exportDeps();
  const access = await accessRoomBySlug(deps.db, params.slug, user.id);
  if (!access) throw notFound("There is no such room");
  if (!canManageRoom(access)) throw forbidden("Only the room's owner can export it");
  await mkdir(deps.tmpDir, { recursive: true, mode: 0o700 });
  const [total] = await deps.db
    .select({ bytes: sum(attachments.size) })
    .from(attachments)
    .where(eq(attachments.roomId, access.room.id));
  return tarResponse(
    roomExport(deps, access.room.id),
    archiveName("room", access.room.slug),
    Number(total?.bytes ?? 0),
  );
});
