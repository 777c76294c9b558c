import { z } from "zod";
import { publish } from "@/lib/realtime/publish";
import { doOpenDirectRoom } from "@/lib/rooms/service";
import { db, runtime } from "@/lib/server/runtime";
import { route } from "@/lib/server/route";

const input = z.object({ userId: z.uuid("That is not a person") });

/** Opens (creating the first time) your direct conversation with someone you share a room with. */
export const POST = route({ input }, async ({ user, input }) => {
  const { events, ...access } = await doOpenDirectRoom(db(), user, input.userId);
  await publish(runtime().io, events);
  return { room: access.room };
});
