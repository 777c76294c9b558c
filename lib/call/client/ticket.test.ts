import { afterEach, describe, expect, it, vi } from "vitest";
import { fetchCallTicket, TicketError } from "./ticket";

/** A ticket as lib/call/service.ts issues it. */
const ticket = {
  token: "t0k3n",
  roomId: "room-1",
  signalingPath: "/sfu/local/socket.io/",
  iceServers: [{ urls: ["turn:10.0.0.1:3478?transport=udp"], username: "1:u", credential: "c" }],
  iceTransportPolicy: "relay",
};

function serve(body: unknown, status = 200) {
  vi.stubGlobal(
    "fetch",
    vi.fn(async () => new Response(JSON.stringify(body), { status })),
  );
}

describe("the call ticket", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("carries the ICE transport policy the browser's connections are made with", async () => {
    serve(ticket);
    const got = await fetchCallTicket("room");
    expect(got.iceTransportPolicy).toBe("relay");
    expect(got.iceServers).toEqual(ticket.iceServers);
    serve({ ...ticket, iceTransportPolicy: "all" });
    expect((await fetchCallTicket("room")).iceTransportPolicy).toBe("all");
  });

  it("refuses a ticket whose policy is missing or unknown, as malformed and final", async () => {
    for (const iceTransportPolicy of [undefined, "none", "RELAY"]) {
      serve({ ...ticket, iceTransportPolicy });
      const err = await fetchCallTicket("room").catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TicketError);
      expect(err).toMatchObject({
        message: "The server sent a malformed call ticket",
        retryable: false,
      });
    }
  });
});
