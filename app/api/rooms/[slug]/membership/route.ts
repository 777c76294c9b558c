import { z } from "zod";
import { notFound } from "@/lib/errors";
import { accessRoomBySlug } from "@/lib/rooms/access";
import { SLUG_PATTERN } from "@/lib/rooms/schemas";
import { doJoinRoomBySlug, doLeaveRoom } from "@/lib/rooms/service";
import { publishPresence } from "@/lib/realtime/presence";
import { channel } from "@/lib/realtime/protocol";
import { db, runtime } from "@/lib/server/runtime";
import { route } from "@/lib/server/route";

const joinSchema = z.object({ invite: z.string().max(100).optional() });

/** Joins the room, as opening its link does (private rooms need `invite`). Idempotent. */
export const POST = route<{ slug: string }, typeof joinSchema>(
  { input: joinSchema },
  async ({ user, input, params }) => {
    if (!SLUG_PATTERN.test(params.slug)) throw notFound("There is no room at this link");
    const { access, joined } = await doJoinRoomBySlug(db(), user, params.slug, input.invite);
    if (joined) runtime().io.to(channel.user(user.id)).emit("rooms.changed");
    return { room: access.room, role: access.role, joined };
  },
);

/** Leaves the room: every tab and device of yours stops receiving it at once. */
export const DELETE = route<{ slug: string }>({}, async ({ user, params }) => {
  const access = await accessRoomBySlug(db(), params.slug, user.id);
  if (!access) throw notFound("There is no such room");
  await doLeaveRoom(db(), user, access.room.id);
  const { io } = runtime();
  io.in(channel.user(user.id)).socketsLeave([channel.room(access.room.id), channel.watch(access.room.id)]);
  await publishPresence(io, access.room.id);
  io.to(channel.user(user.id)).emit("rooms.changed");
  return { left: true };
});
