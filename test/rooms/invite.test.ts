import * as crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import type { Database } from "@/lib/db/client";
import { doCreateRoom, doJoinRoomBySlug, inviteLinkPath } from "@/lib/rooms/service";
import { isInviteToken } from "@/lib/rooms/slug";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { createUser } from "@/test/support/fixtures";

// The comparison must go through timingSafeEqual; a spy on it shows that it does.
vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof crypto>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

describe("isInviteToken", () => {
  it("compares in constant time, on equal-length buffers whatever the input's length", () => {
    const spy = vi.mocked(crypto.timingSafeEqual);
    spy.mockClear();
    expect(isInviteToken("abc", "abc")).toBe(true);
    expect(isInviteToken("abd", "abc")).toBe(false);
    expect(isInviteToken("", "abc")).toBe(false);
    expect(isInviteToken("a".repeat(10_000), "abc")).toBe(false);
    expect(spy).toHaveBeenCalledTimes(4);
    for (const [a, b] of spy.mock.calls) expect(a.byteLength).toBe(b.byteLength);
  });
});

describe.each(testDbKinds())("joining a private room on %s", (kind) => {
  let database: Database;
  let ada: SessionUser;
  let bob: SessionUser;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    ada = await createUser(database.db, "Ada");
    bob = await createUser(database.db, "Bob");
  });
  afterAll(async () => {
    await database?.close();
  });

  it("checks the invite token with the constant-time comparison", async () => {
    const owner = await doCreateRoom(database.db, ada, { kind: "private" });
    const invite = new URL(await inviteLinkPath(database.db, owner), "http://x").searchParams.get(
      "invite",
    )!;
    const spy = vi.mocked(crypto.timingSafeEqual);
    spy.mockClear();
    const almost = invite.slice(0, -1) + (invite.endsWith("A") ? "B" : "A");
    await expect(doJoinRoomBySlug(database.db, bob, owner.room.slug, almost)).rejects.toMatchObject(
      {
        code: "not_found",
      },
    );
    expect(spy).toHaveBeenCalledTimes(1);
    expect((await doJoinRoomBySlug(database.db, bob, owner.room.slug, invite)).joined).toBe(true);
    expect(spy).toHaveBeenCalledTimes(2);
  });
});
