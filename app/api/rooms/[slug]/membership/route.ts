import { z } from "zod";
import { notFound } from "@/lib/errors";
import { publish } from "@/lib/realtime/publish";
import { accessRoomBySlug } from "@/lib/rooms/access";
import { SLUG_PATTERN } from "@/lib/rooms/schemas";
import { doJoinRoomBySlug, doLeaveRoom } from "@/lib/rooms/service";
import { db, runtime } from "@/lib/server/runtime";
import { route } from "@/lib/server/route";

const joinSchema = z.object({ invite: z.string().max(100).optional() });

/** Joins the room, as opening its link does (private rooms need `invite`). Idempotent. */
export const POST = route<{ slug: string }, typeof joinSchema>(
  { input: joinSchema },
  async ({ user, input, params }) => {
    if (!SLUG_PATTERN.test(params.slug)) throw notFound("There is no room at this link");
    const { access, joined, events } = await doJoinRoomBySlug(
      db(),
      user,
      params.slug,
      input.invite,
    );
    await publish(runtime().io, events);
    return { room: access.room, role: access.role, joined };
  },
);

/** Leaves the room: every tab and device of yours stops receiving it at once. */
export const DELETE = route<{ slug: string }>({}, async ({ user, params }) => {
  const access = await accessRoomBySlug(db(), params.slug, user.id);
  if (!access) throw notFound("There is no such room");
  const { events, left } = await doLeaveRoom(db(), user, access.room.id);
  await publish(runtime().io, events);
  return { left };
});
