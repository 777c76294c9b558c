import { createRoomSchema } from "@/lib/rooms/schemas";
import { doCreateRoom, listRoomsForUser } from "@/lib/rooms/service";
import { withCallCounts } from "@/lib/realtime/call-handlers";
import { publish } from "@/lib/realtime/publish";
import { db, runtime } from "@/lib/server/runtime";
import { route } from "@/lib/server/route";

/** The rooms you belong to, with unread counts and who is in their calls. */
export const GET = route({}, async ({ user }) => ({
  rooms: await withCallCounts(runtime().io, await listRoomsForUser(db(), user.id)),
}));

/** Creates a room owned by you. */
export const POST = route({ input: createRoomSchema }, async ({ user, input }) => {
  const { events, ...access } = await doCreateRoom(db(), user, input);
  await publish(runtime().io, events);
  return { room: access.room };
});
