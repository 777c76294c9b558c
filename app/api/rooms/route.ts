import { createRoomSchema } from "@/lib/rooms/schemas";
import { doCreateRoom, listRoomsForUser } from "@/lib/rooms/service";
import { channel } from "@/lib/realtime/protocol";
import { db, runtime } from "@/lib/server/runtime";
import { route } from "@/lib/server/route";

/** The rooms you belong to, with unread counts. */
export const GET = route({}, async ({ user }) => ({ rooms: await listRoomsForUser(db(), user.id) }));

/** Creates a room owned by you. */
export const POST = route({ input: createRoomSchema }, async ({ user, input }) => {
  const access = await doCreateRoom(db(), user, input);
  runtime().io.to(channel.user(user.id)).emit("rooms.changed");
  return { room: access.room };
});
