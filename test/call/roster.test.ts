import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import type { CallRoster } from "@/lib/realtime/protocol";
import { doCreateRoom, doJoinRoomBySlug } from "@/lib/rooms/service";
import { createGuest, createUser } from "@/test/support/fixtures";
import {
  ask,
  nextEvent,
  type RealtimeHarness,
  startRealtimeServer,
} from "@/test/support/realtime-server";

/** Who is in a room's call, seen by everyone in the room, joined or not (call-handlers.ts). */
describe("call roster", () => {
  let h: RealtimeHarness;
  let ada: SessionUser;
  let bob: SessionUser;
  let eve: SessionUser;
  let roomId: string;

  beforeAll(async () => {
    h = await startRealtimeServer("pglite");
    ada = await createUser(h.db, "Ada");
    bob = await createUser(h.db, "Bob");
    eve = await createGuest(h.db, "Eve");
    const access = await doCreateRoom(h.db, ada, { kind: "open" });
    roomId = access.room.id;
    await doJoinRoomBySlug(h.db, bob, access.room.slug);
  });
  afterAll(async () => {
    await h?.close();
  });

  const names = (roster: CallRoster) => roster.participants.map((p) => p.displayName);

  it("shows who joins and leaves to people who have not joined, one entry per person", async () => {
    const watcher = await h.client(bob);
    expect((await ask(watcher, "room.subscribe", { roomId })).ok).toBe(true);
    const before = await ask(watcher, "call.roster", { roomId });
    expect(names(before.data as CallRoster)).toEqual([]);

    const tab1 = await h.client(ada);
    const tab2 = await h.client(ada);
    const joined = nextEvent<CallRoster>(
      watcher,
      "call.roster",
      (r) => r.participants.length === 1,
    );
    const ack = await ask(tab1, "call.join", { roomId });
    expect(names(ack.data as CallRoster)).toEqual(["Ada"]);
    expect(names(await joined)).toEqual(["Ada"]);
    expect((await ask(tab2, "call.join", { roomId })).ok).toBe(true);
    expect(names((await ask(watcher, "call.roster", { roomId })).data as CallRoster)).toEqual([
      "Ada",
    ]);

    // One tab leaves: Ada is still in the call through the other.
    await ask(tab1, "call.leave", { roomId });
    expect(names((await ask(watcher, "call.roster", { roomId })).data as CallRoster)).toEqual([
      "Ada",
    ]);

    // The other tab dies: its disconnect empties the roster.
    const gone = nextEvent<CallRoster>(watcher, "call.roster", (r) => r.participants.length === 0);
    tab2.disconnect();
    expect(names(await gone)).toEqual([]);
    tab1.disconnect();
    watcher.disconnect();
  });

  it("a late leave of an earlier session does not take the tab out of a newer one", async () => {
    const watcher = await h.client(bob);
    const tab = await h.client(ada);
    const roster = async () =>
      names((await ask(watcher, "call.roster", { roomId })).data as CallRoster);
    const [first, second] = [randomUUID(), randomUUID()];

    // In, out and in again at once (the room left and come back to, Leave then Join): the
    // first session's leave arrives after the second's join.
    expect((await ask(tab, "call.join", { roomId, session: first })).ok).toBe(true);
    expect((await ask(tab, "call.join", { roomId, session: second })).ok).toBe(true);
    expect((await ask(tab, "call.leave", { roomId, session: first })).ok).toBe(true);
    expect(await roster()).toEqual(["Ada"]);
    // Its own leave ends it.
    expect((await ask(tab, "call.leave", { roomId, session: second })).ok).toBe(true);
    expect(await roster()).toEqual([]);

    // A leave sent right behind its join (not awaited) overtakes the join's membership
    // check: the tab must end up out, not in the call for good.
    const third = randomUUID();
    const joining = ask(tab, "call.join", { roomId, session: third });
    const leaving = ask(tab, "call.leave", { roomId, session: third });
    expect((await joining).ok).toBe(true);
    expect((await leaving).ok).toBe(true);
    expect(await roster()).toEqual([]);

    // A malformed session changes nothing.
    const bad = await ask(tab, "call.leave", { roomId, session: "not-a-session" });
    expect(bad).toMatchObject({ ok: false, error: { code: "bad_request" } });
    tab.disconnect();
    watcher.disconnect();
  });

  it("tells outsiders nothing", async () => {
    const e = await h.client(eve);
    for (const name of ["call.join", "call.roster"]) {
      const ack = await ask(e, name, { roomId });
      expect(ack).toMatchObject({ ok: false, error: { code: "not_found" } });
    }
    expect((await ask(e, "call.join", { roomId: "nope" })).error?.code).toBe("bad_request");
    e.disconnect();
  });
});
