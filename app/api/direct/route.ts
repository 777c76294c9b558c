import { z } from "zod";
import { channel } from "@/lib/realtime/protocol";
import { doOpenDirectRoom } from "@/lib/rooms/service";
import { db, runtime } from "@/lib/server/runtime";
import { route } from "@/lib/server/route";

const input = z.object({ userId: z.uuid("That is not a person") });

/** Opens (creating the first time) your direct conversation with someone you share a room with. */
export const POST = route({ input }, async ({ user, input }) => {
  const access = await doOpenDirectRoom(db(), user, input.userId);
  const { io } = runtime();
  io.to([channel.user(user.id), channel.user(input.userId)]).emit("rooms.changed");
  return { room: access.room };
});
