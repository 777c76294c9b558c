import { doIssueCallTicket } from "@/lib/call/service";
import { route } from "@/lib/server/route";

/**
 * A ticket to join the room's call: a single-use call token (≤ 60 s), the signaling path
 * on this origin and the ICE servers. Members only; anyone else gets 404.
 */
export const POST = route<{ slug: string }>({}, async ({ user, params }) =>
  doIssueCallTicket(user, params.slug),
);
