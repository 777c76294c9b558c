import { notFound } from "@/lib/errors";
import { accessRoomBySlug } from "@/lib/rooms/access";
import { doLeaveRoom } from "@/lib/rooms/service";
import { publishPresence } from "@/lib/realtime/presence";
import { channel } from "@/lib/realtime/protocol";
import { db, runtime } from "@/lib/server/runtime";
import { route } from "@/lib/server/route";

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
