import { roomNotifySchema } from "@/lib/notify/schemas";
import { doUpdateRoomNotify, getRoomNotify } from "@/lib/notify/service";
import { route } from "@/lib/server/route";
import { db } from "@/lib/server/runtime";

/** What reaches you from this room: level and mute. */
export const GET = route<{ slug: string }>({}, async ({ user, params }) =>
  getRoomNotify(db(), user, params.slug),
);

export const PATCH = route<{ slug: string }, typeof roomNotifySchema>(
  { input: roomNotifySchema },
  async ({ user, params, input }) => doUpdateRoomNotify(db(), user, params.slug, input),
);
