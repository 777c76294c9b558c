import { z } from "zod";

/**
 * A ticket to the room's call from `POST /api/rooms/<slug>/call` (lib/call/service.ts):
 * a single-use call token that expires within a minute, so one is fetched for every
 * (re)join, right before connecting.
 */
export const CallTicket = z.object({
  token: z.string().min(1),
  roomId: z.string().min(1),
  signalingPath: z.string().regex(/^\/sfu\/[A-Za-z0-9_-]+\/socket\.io\/$/),
  iceServers: z.array(
    z.object({
      urls: z.array(z.string()),
      username: z.string().optional(),
      credential: z.string().optional(),
    }),
  ),
  /** `relay`: media only through the TURN servers above (CALL_ICE_TRANSPORT_POLICY). */
  iceTransportPolicy: z.enum(["all", "relay"]),
});
export type CallTicket = z.infer<typeof CallTicket>;

/** What both media connections are configured with: the ticket's ICE part. */
export type IceSettings = Pick<CallTicket, "iceServers" | "iceTransportPolicy">;

const ErrorResponse = z.object({ error: z.object({ code: z.string(), message: z.string() }) });

/** Why a ticket could not be had; `retryable` when trying again later may work. */
export class TicketError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = "TicketError";
  }
}

export async function fetchCallTicket(slug: string, signal?: AbortSignal): Promise<CallTicket> {
  let response: Response;
  try {
    response = await fetch(`/api/rooms/${encodeURIComponent(slug)}/call`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
      signal,
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new TicketError("Can't reach the server", true);
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const parsed = ErrorResponse.safeParse(body);
    const message = parsed.success
      ? parsed.data.error.message
      : `The server answered ${response.status}`;
    // 5xx (the SFU restarting, the database away) passes; 4xx (not a member) does not.
    throw new TicketError(message, response.status >= 500 || response.status === 429);
  }
  const ticket = CallTicket.safeParse(body);
  if (!ticket.success) throw new TicketError("The server sent a malformed call ticket", false);
  return ticket.data;
}
