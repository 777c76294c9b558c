import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { after } from "next/server";
import { RoomView } from "@/components/rooms/RoomView";
import { requirePageUser } from "@/lib/auth/session";
import { MESSAGE_PARAM, messageSeqParam } from "@/lib/chat/permalink";
import { HISTORY_PAGE_SIZE } from "@/lib/chat/schemas";
import { loadHistoryAround, loadHistoryPage } from "@/lib/chat/views";
import { AppError } from "@/lib/errors";
import { publish } from "@/lib/realtime/publish";
import { SLUG_PATTERN } from "@/lib/rooms/schemas";
import { doJoinRoomBySlug, inviteLinkPath } from "@/lib/rooms/service";
import { db, runtime } from "@/lib/server/runtime";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "Room", referrer: "no-referrer" };

/**
 * A room's link is its invitation: opening it signs you in (as a guest if you like) and
 * joins you. The page checks and prefetches on the server, then hands one client view the
 * room and its newest history.
 */
export default async function RoomPage({
  params,
  searchParams,
}: {
  params: Promise<{ slug: string }>;
  searchParams: Promise<{ invite?: string; m?: string }>;
}) {
  const { slug } = await params;
  const { invite, m } = await searchParams;
  if (!SLUG_PATTERN.test(slug)) notFound();
  // `?m=<seq>`: open the room at that message (a permalink, a search result, a notification).
  const linkedSeq = m === undefined ? undefined : messageSeqParam.safeParse(m).data;
  const query = new URLSearchParams();
  if (invite) query.set("invite", invite);
  if (linkedSeq) query.set(MESSAGE_PARAM, String(linkedSeq));
  const returnTo = `/r/${slug}${query.size ? `?${query}` : ""}`;
  const user = await requirePageUser(returnTo);

  let joined;
  try {
    joined = await doJoinRoomBySlug(db(), user, slug, invite);
  } catch (err) {
    // Someone the owner removed is refused like anyone without an invitation.
    if (err instanceof AppError && (err.code === "not_found" || err.code === "forbidden"))
      notFound();
    throw err;
  }
  const { access, events } = joined;
  // Published once the page has been sent, never while it renders (a render may be retried
  // or abandoned; the join has committed either way).
  if (events.length > 0) after(() => publish(runtime().io, events));

  const roomId = access.room.id;
  const limit = HISTORY_PAGE_SIZE;
  const [around, invitePath] = await Promise.all([
    linkedSeq ? loadHistoryAround(db(), roomId, linkedSeq, { limit }) : undefined,
    inviteLinkPath(db(), access),
  ]);
  // A link to a message that is not here (mistyped, out of range, from another room) says
  // so and shows the newest messages.
  const found = around?.messages.some((message) => message.seq === linkedSeq) ?? false;
  const history = found && around ? around : await loadHistoryPage(db(), roomId, { limit });
  const focusSeq = found ? linkedSeq : undefined;
  const linkError =
    m !== undefined && !found
      ? "That link points at no message in this room, so here are the latest ones."
      : undefined;

  return (
    // Next keeps a page's client state when only its [slug] changes (a link from one room
    // to another): a new room is a new view, its chat state and sync started afresh.
    <RoomView
      key={access.room.id}
      me={user}
      room={access.room}
      role={access.role}
      invitePath={invitePath}
      initialHistory={history}
      focusSeq={focusSeq}
      linkError={linkError}
      maxMessageLength={runtime().config.CHAT_MAX_MESSAGE_LENGTH}
    />
  );
}
