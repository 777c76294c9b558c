import { eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import type { Database } from "@/lib/db/client";
import { pushSubscriptions, roomMembers } from "@/lib/db/schema";
import { pushRecipientPages, SubscriptionUseRecorder } from "@/lib/notify/service";
import { doCreateRoom } from "@/lib/rooms/service";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { createUser } from "@/test/support/fixtures";

/** The fan-out's database side: recipients in pages, and when devices were last reached. */
describe.each(testDbKinds())("the fan-out's reads and writes, on %s", (kind) => {
  let database: Database;
  let owner: SessionUser;
  let roomId: string;
  let ids: string[];
  const MEMBERS = 12;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    owner = await createUser(database.db, "Owner");
    roomId = (await doCreateRoom(database.db, owner, { kind: "open" })).room.id;
    const people = [];
    for (let i = 0; i < MEMBERS; i++) people.push(await createUser(database.db, `Member ${i}`));
    await database.db
      .insert(roomMembers)
      .values(people.map((p) => ({ roomId, userId: p.id, role: "member" as const })));
    // Two devices each: a member's devices must never be split across two pages.
    const rows = await database.db
      .insert(pushSubscriptions)
      .values(
        people.flatMap((p, i) =>
          [0, 1].map((d) => ({
            userId: p.id,
            endpoint: `https://push.example/${i}/${d}`,
            p256dh: "k",
            auth: "a",
            label: "test",
          })),
        ),
      )
      .returning({ id: pushSubscriptions.id });
    ids = rows.map((r) => r.id);
  });
  afterAll(async () => {
    await database?.close();
  });

  it("reads every member but the sender once, in pages, letting the event loop run between them", async () => {
    const pages: string[][] = [];
    let turns = 0;
    let ticking = true;
    const tick = () => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const turnsAtPage: number[] = [];
    for await (const page of pushRecipientPages(database.db, roomId, owner.id, 5)) {
      pages.push(page.map((r) => r.user_id));
      turnsAtPage.push(turns);
    }
    ticking = false;
    expect(pages.map((p) => new Set(p).size)).toEqual([5, 5, 2]);
    expect(pages.flat()).toHaveLength(MEMBERS * 2);
    expect(new Set(pages.flat()).size).toBe(MEMBERS);
    expect(pages.flat()).not.toContain(owner.id);
    // A member's two devices are in the same page.
    for (const page of pages)
      for (const id of page) expect(page.filter((x) => x === id)).toHaveLength(2);
    // Each later page was read after another turn of the event loop (setImmediate ran).
    for (let i = 1; i < turnsAtPage.length; i++)
      expect(turnsAtPage[i]!).toBeGreaterThan(turnsAtPage[i - 1]!);
  });

  it("writes last_success_at only when flushed, in batches, and not again within the hour", async () => {
    const lastSuccess = async () =>
      new Map(
        (
          await database.db
            .select({ id: pushSubscriptions.id, at: pushSubscriptions.lastSuccessAt })
            .from(pushSubscriptions)
            .where(inArray(pushSubscriptions.id, ids))
        ).map((r) => [r.id, r.at]),
      );
    const errors: unknown[] = [];
    const used = new SubscriptionUseRecorder(
      () => database.db,
      (err) => errors.push(err),
    );
    used.record(ids);
    // Nothing is written at the moment of the fan-out.
    expect([...(await lastSuccess()).values()].every((at) => at === null)).toBe(true);
    await used.flush();
    const first = await lastSuccess();
    expect([...first.values()].every((at) => at instanceof Date)).toBe(true);

    // Reached again within the hour: not written again, even if the row says otherwise.
    const old = new Date(Date.now() - 3 * 60 * 60 * 1000);
    await database.db
      .update(pushSubscriptions)
      .set({ lastSuccessAt: old })
      .where(eq(pushSubscriptions.id, ids[0]!));
    used.record(ids);
    await used.flush();
    expect((await lastSuccess()).get(ids[0]!)).toEqual(old);
    expect(errors).toEqual([]);

    // Another recorder (another web node): the statement's own condition keeps fresh rows.
    const other = new SubscriptionUseRecorder(
      () => database.db,
      (err) => errors.push(err),
    );
    other.record(ids);
    await other.flush();
    const after = await lastSuccess();
    expect(after.get(ids[0]!)!.getTime()).toBeGreaterThan(old.getTime());
    expect(after.get(ids[1]!)).toEqual(first.get(ids[1]!));
    expect(errors).toEqual([]);
  });
});
