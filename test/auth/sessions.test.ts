import { encode } from "next-auth/jwt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import { getSessionUserFromCookieHeader } from "@/lib/auth/session";
import { authenticate, doSignOutEverywhere, findSessionUser } from "@/lib/auth/service";
import { TEST_SECRETS } from "@/test/support/config";
import { testDbKinds } from "@/test/support/db";
import { createUser } from "@/test/support/fixtures";
import { type RealtimeHarness, startRealtimeServer } from "@/test/support/realtime-server";

describe.each(testDbKinds())("sign out everywhere on %s", (kind) => {
  let h: RealtimeHarness;
  let ada: SessionUser;
  let bob: SessionUser;

  beforeAll(async () => {
    h = await startRealtimeServer(kind);
    ada = await createUser(h.db, "Ada");
    bob = await createUser(h.db, "Bob");
  });
  afterAll(async () => {
    await h?.close();
  });

  const cookie = async (user: SessionUser, ver?: number) =>
    `next-auth.session-token=${await encode({
      token: { sub: user.id, name: user.displayName, ...(ver === undefined ? {} : { ver }) },
      secret: TEST_SECRETS.authSecret,
    })}`;

  it("ends every session signed in before it, sockets included, and only that user's", async () => {
    const adaSocket = await h.client(ada);
    const bobSocket = await h.client(bob);
    // A session from before session versions existed counts as version 0.
    const old = await cookie(ada);
    const current = await cookie(ada, 0);
    expect(await getSessionUserFromCookieHeader(old, h.db)).toEqual(ada);
    expect(await getSessionUserFromCookieHeader(current, h.db)).toEqual(ada);

    const closed = new Promise<string>((resolve) => adaSocket.once("disconnect", resolve));
    await doSignOutEverywhere(h.db, h.realtime.io, ada.id);
    expect(await closed).toBe("io server disconnect");

    expect(await getSessionUserFromCookieHeader(old, h.db)).toBeNull();
    expect(await getSessionUserFromCookieHeader(current, h.db)).toBeNull();
    expect(await findSessionUser(h.db, ada.id, 0)).toBeNull();
    await expect(h.client(null, { cookie: current })).rejects.toThrow("unauthorized");

    // Bob is untouched.
    expect(bobSocket.connected).toBe(true);
    expect(await getSessionUserFromCookieHeader(await cookie(bob, 0), h.db)).toEqual(bob);
    bobSocket.disconnect();
  });

  it("lets the user sign in again, at the new version", async () => {
    const found = await authenticate(h.db, ada.email!, "correct horse battery");
    expect(found).toEqual({ user: ada, sessionVersion: 1 });
    const fresh = await cookie(ada, found!.sessionVersion);
    expect(await getSessionUserFromCookieHeader(fresh, h.db)).toEqual(ada);
    const socket = await h.client(null, { cookie: fresh });
    expect(socket.connected).toBe(true);
    socket.disconnect();
  });
});
