import { z } from "zod";
import { notFound } from "@/lib/errors";
import { publish } from "@/lib/realtime/publish";
import { accessRoomBySlug } from "@/lib/rooms/access";
import { doRemoveMember } from "@/lib/rooms/service";
import { db, runtime } from "@/lib/server/runtime";
import { route } from "@/lib/server/route";

const userIdSchema = z.uuid();

/**
 * `Remove from room`: the owner removes another member. Their membership is revoked, their
 * open tabs leave the room at once, and the room's link no longer lets them back in.
 */
export const DELETE = route<{ slug: string; userId: string }>({}, async ({ user, params }) => {
  const access = await accessRoomBySlug(db(), params.slug, user.id);
  if (!access) throw notFound("There is no such room");
  const target = userIdSchema.safeParse(params.userId);
  if (!target.success) throw notFound("That person is not in this room");
  const { events, removed } = await doRemoveMember(db(), user, access.room.id, target.data);
  await publish(runtime().io, events);
  return { removed };
});
