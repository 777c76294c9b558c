import { eq } from "drizzle-orm";
import webpush from "web-push";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import type { RoomEvent } from "@/lib/chat/schemas";
import { pushSubscriptions } from "@/lib/db/schema";
import type { FanoutResult } from "@/lib/notify/fanout";
import { startNotify } from "@/lib/notify/node";
import { mentionMarkdown, type PushPayload } from "@/lib/notify/schemas";
import {
  doSubscribe,
  doUpdatePrefs,
  doUpdateRoomNotify,
  listSubscriptions,
} from "@/lib/notify/service";
import { doCreateRoom, doJoinRoomBySlug, doOpenDirectRoom } from "@/lib/rooms/service";
import { testConfig } from "@/test/support/config";
import { testDbKinds } from "@/test/support/db";
import { createUser } from "@/test/support/fixtures";
import { startPushService, type PushService, type TestDevice } from "@/test/support/push-service";
import {
  ask,
  type RealtimeHarness,
  startRealtimeServer,
  type TestSocket,
} from "@/test/support/realtime-server";

describe.each(testDbKinds())("Web Push fan-out on %s", (kind) => {
  let h: RealtimeHarness;
  let push: PushService;
  let stop: () => Promise<void>;
  const vapid = webpush.generateVAPIDKeys();
  const fanouts = new Map<string, (r: FanoutResult | null) => void>();
  const done: Map<string, FanoutResult | null> = new Map();

  const users: Record<string, SessionUser> = {};
  const devices: Record<string, TestDevice> = {};
  let roomId: string;
  let slug: string;
  let ada: TestSocket;

  beforeAll(async () => {
    h = await startRealtimeServer(kind, { CHAT_RATE_POINTS: "200" });
    push = await startPushService({ expectedPublicKey: vapid.publicKey });
    const env = testConfig({
      PUSH_INSECURE_ORIGINS: push.url,
      VAPID_SUBJECT: "mailto:ops@parley.test",
      // The room has 7 members: only its owner's (Ada's) @room reaches everyone.
      MENTION_ROOM_MAX_MEMBERS: "6",
    });
    ({ stop } = startNotify({
      io: h.realtime.io,
      db: () => h.db,
      env,
      vapid,
      sender: { baseDelayMs: 20 },
      onRing: (room, result) => {
        const key = `ring:${room}`;
        done.set(key, result);
        fanouts.get(key)?.(result);
      },
      onFanout: (event: RoomEvent, result) => {
        const key = `${event.roomId}:${event.seq}`;
        done.set(key, result);
        fanouts.get(key)?.(result);
      },
    }));
    for (const name of ["Ada", "Bob", "Cat", "Dan", "Eve", "Fay", "Gus"]) {
      users[name] = await createUser(h.db, name);
    }
    const room = await doCreateRoom(h.db, users.Ada!, { kind: "open", name: "Design" });
    roomId = room.room.id;
    slug = room.room.slug;
    for (const name of ["Bob", "Cat", "Dan", "Eve", "Fay", "Gus"]) {
      await doJoinRoomBySlug(h.db, users[name]!, slug);
    }
    for (const name of ["Ada", "Bob", "Cat", "Dan", "Eve", "Fay", "Gus"]) {
      devices[name] = push.device(name);
      await doSubscribe(h.db, users[name]!, devices[name].subscription, {
        insecureOrigins: [push.url],
      });
    }
    await doUpdateRoomNotify(h.db, users.Dan!, slug, { muted: true, level: "all" });
    await doUpdatePrefs(h.db, users.Eve!.id, { dndMinutes: 60 });
    await doUpdateRoomNotify(h.db, users.Fay!, slug, { level: "nothing" });
    await doUpdateRoomNotify(h.db, users.Gus!, slug, { level: "all" });
    ada = await h.client(users.Ada!);
  });
  afterAll(async () => {
    await stop?.();
    await h?.close();
    await push?.close();
  });

  /** Sends as Ada and resolves with the finished fan-out and what each device received. */
  async function sendAndFanOut(socket: TestSocket, body: string, room = roomId) {
    const before = push.received.length;
    const ack = await ask(socket, "message.send", {
      roomId: room,
      clientId: crypto.randomUUID(),
      body,
    });
    expect(ack.ok).toBe(true);
    const seq = (ack.data as { seq: number }).seq;
    const key = `${room}:${seq}`;
    const result =
      done.get(key) ??
      (await new Promise<FanoutResult | null>((resolve) => fanouts.set(key, resolve)));
    const got = push.received.slice(before);
    return { seq, result, got, to: got.map((r) => r.device).sort() };
  }

  it("pushes a plain message only to those who want everything from the room", async () => {
    const { to, result } = await sendAndFanOut(ada, "Lunch at noon?");
    expect(to).toEqual(["Gus"]);
    expect(result).toMatchObject({ sent: 1, gone: 0, failed: 0 });
  });

  it("pushes a mention to its target, with a verified VAPID JWT and a decrypted payload", async () => {
    const { to, got, seq } = await sendAndFanOut(
      ada,
      `${mentionMarkdown(users.Bob!.id, "Bob")} can you *review* this?`,
    );
    expect(to).toEqual(["Bob", "Gus"]);
    const atBob = got.find((r) => r.device === "Bob")!;
    expect(atBob.payload).toEqual({
      kind: "message",
      title: "Ada in Design",
      body: "@Bob can you review this?",
      tag: `room:${roomId}`,
      url: `/r/${slug}?m=${seq}`,
      roomId,
      seq,
      icon: "/icons/icon-192.png",
      timestamp: expect.any(Number) as number,
    } satisfies PushPayload);
    expect(atBob.headers).toEqual({ ttl: 86400, urgency: "high", topic: undefined });
    expect(atBob.jwt.aud).toBe(push.url);
    expect(atBob.jwt.sub).toBe("mailto:ops@parley.test");
    expect(push.rejected).toEqual([]);
  });

  it("@room reaches everyone but the muted, the do-not-disturbed and those who chose nothing", async () => {
    const { to } = await sendAndFanOut(ada, "@room the build is green");
    expect(to).toEqual(["Bob", "Cat", "Gus"]);
  });

  it("in a room over MENTION_ROOM_MAX_MEMBERS, a member's @room is a plain message", async () => {
    const bob = await h.client(users.Bob!);
    try {
      const { to } = await sendAndFanOut(bob, "@room who broke the build?");
      expect(to).toEqual(["Gus"]);
    } finally {
      bob.disconnect();
    }
  });

  it("holds a push back while one of the person's tabs shows the room, visible and focused", async () => {
    const bobTab = await h.client(users.Bob!);
    expect((await ask(bobTab, "room.subscribe", { roomId })).ok).toBe(true);
    expect((await ask(bobTab, "client.focus", { roomId, active: true })).ok).toBe(true);
    const focused = await sendAndFanOut(ada, `${mentionMarkdown(users.Bob!.id, "Bob")} here?`);
    expect(focused.to).toEqual(["Gus"]);
    expect(focused.result?.looking).toBe(1);

    // The tab is hidden (or another window has focus): the push goes out again.
    expect((await ask(bobTab, "client.focus", { roomId, active: false })).ok).toBe(true);
    const hidden = await sendAndFanOut(ada, `${mentionMarkdown(users.Bob!.id, "Bob")} still?`);
    expect(hidden.to).toEqual(["Bob", "Gus"]);
    bobTab.disconnect();
  });

  it("says only 'New message' to someone in privacy mode", async () => {
    await doUpdatePrefs(h.db, users.Cat!.id, { privacy: true });
    const { got } = await sendAndFanOut(ada, "@room secret plans");
    const atCat = got.find((r) => r.device === "Cat")!;
    expect((atCat.payload as PushPayload).body).toBe("New message");
    expect((got.find((r) => r.device === "Bob")!.payload as PushPayload).body).toBe(
      "@room secret plans",
    );
    await doUpdatePrefs(h.db, users.Cat!.id, { privacy: false });
  });

  it("deletes a subscription its push service answers 410 for", async () => {
    push.script(devices.Cat!, [410]);
    const { result, to } = await sendAndFanOut(ada, "@room roll call");
    expect(to).toEqual(["Bob", "Gus"]);
    expect(result).toMatchObject({ sent: 2, gone: 1 });
    expect(await listSubscriptions(h.db, users.Cat!.id)).toEqual([]);
    const left = await h.db
      .select()
      .from(pushSubscriptions)
      .where(eq(pushSubscriptions.userId, users.Cat!.id));
    expect(left).toEqual([]);
  });

  it("retries 5xx and 429 with backoff until the push service takes it", async () => {
    push.script(devices.Gus!, [503, 429]);
    const before = push.attemptsOf(devices.Gus!);
    const { to, result } = await sendAndFanOut(ada, "retry me");
    expect(to).toEqual(["Gus"]);
    expect(result).toMatchObject({ sent: 1, failed: 0 });
    expect(push.attemptsOf(devices.Gus!) - before).toBe(3);
  });

  it("gives up on a push service that keeps failing, and keeps the subscription", async () => {
    push.script(devices.Gus!, [500, 500, 500, 500]);
    const { to, result } = await sendAndFanOut(ada, "never arrives");
    expect(to).toEqual([]);
    expect(result).toMatchObject({ sent: 0, failed: 1 });
    expect(await listSubscriptions(h.db, users.Gus!.id)).toHaveLength(1);
  });

  it("pushes every message of a direct conversation by default", async () => {
    const direct = await doOpenDirectRoom(h.db, users.Ada!, users.Bob!.id);
    const { to, got } = await sendAndFanOut(ada, "just us", direct.room.id);
    expect(to).toEqual(["Bob"]);
    expect((got[0]!.payload as PushPayload).title).toBe("Ada");
  });

  it("rings the room's members when a call starts, by the same levels, once", async () => {
    const before = push.received.length;
    const rung = new Promise<FanoutResult | null>((resolve) =>
      fanouts.set(`ring:${roomId}`, resolve),
    );
    expect((await ask(ada, "call.join", { roomId })).ok).toBe(true);
    expect(await rung).toMatchObject({ sent: 2, failed: 0 });
    const got = push.received.slice(before);
    expect(got.map((r) => r.device).sort()).toEqual(["Bob", "Gus"]);
    expect(got[0]!.payload).toMatchObject({
      kind: "call",
      title: "Design",
      body: "Ada started a call",
      tag: `call:${roomId}`,
      url: `/r/${slug}`,
    });
    expect(got[0]!.headers).toMatchObject({ ttl: 60, urgency: "high" });
    // Leaving and rejoining at once (a reconnect) rings no one again.
    expect((await ask(ada, "call.leave", { roomId })).ok).toBe(true);
    done.delete(`ring:${roomId}`);
    expect((await ask(ada, "call.join", { roomId })).ok).toBe(true);
    const again = await sendAndFanOut(ada, "after the call began");
    expect(again.to).toEqual(["Gus"]);
    await expect.poll(() => done.has(`ring:${roomId}`)).toBe(true);
    expect(done.get(`ring:${roomId}`)).toBeNull();
  });

  it("rings once when two web nodes hear of the same call start", async () => {
    const room = await doCreateRoom(h.db, users.Ada!, { kind: "open", name: "Standup" });
    await doJoinRoomBySlug(h.db, users.Bob!, room.room.slug);
    // A second node's notifications on the same realtime server: both hear the start.
    const rings: (FanoutResult | null)[] = [];
    const other = startNotify({
      io: h.realtime.io,
      db: () => h.db,
      env: testConfig({ PUSH_INSECURE_ORIGINS: push.url, VAPID_SUBJECT: "mailto:ops@parley.test" }),
      vapid,
      onRing: (_room, result) => rings.push(result),
      onFanout: () => undefined,
    });
    try {
      const before = push.received.length;
      const key = `ring:${room.room.id}`;
      const heard = () => [...rings, ...(done.has(key) ? [done.get(key)!] : [])];
      expect((await ask(ada, "call.join", { roomId: room.room.id })).ok).toBe(true);
      // Both nodes handle the start; whichever claimed it rings, the other rings no one.
      await expect.poll(() => heard().length, { timeout: 10_000 }).toBe(2);
      const rang = heard().filter((r) => r !== null);
      expect(rang).toHaveLength(1);
      expect(rang[0]).toMatchObject({ sent: 1 });
      const calls = push.received
        .slice(before)
        .filter((r) => (r.payload as PushPayload).kind === "call");
      expect(calls.map((r) => r.device)).toEqual(["Bob"]);
      expect((await ask(ada, "call.leave", { roomId: room.room.id })).ok).toBe(true);
    } finally {
      await other.stop();
    }
  });

  it("refuses a plain-http endpoint that is not an allowed test origin", async () => {
    await expect(
      doSubscribe(
        h.db,
        users.Bob!,
        { ...devices.Bob!.subscription, endpoint: "http://10.0.0.1/push/x" },
        { insecureOrigins: [push.url] },
      ),
    ).rejects.toThrow("https");
  });

  it("refuses keys that cannot encrypt: a point off P-256, a secret of the wrong size", async () => {
    const subscription = devices.Bob!.subscription;
    const point = Buffer.from(subscription.keys.p256dh, "base64url");
    point[40]! ^= 1; // still 65 bytes and valid base64url, no longer on the curve
    const offCurve = point.toString("base64url");
    const before = await listSubscriptions(h.db, users.Bob!.id);
    for (const [keys, error] of [
      [{ ...subscription.keys, p256dh: offCurve }, "not a P-256 public key"],
      [{ ...subscription.keys, auth: Buffer.alloc(17).toString("base64url") }, "16 bytes"],
    ] as const)
      await expect(
        doSubscribe(
          h.db,
          users.Bob!,
          { ...subscription, endpoint: `${push.url}/push/bad-keys`, keys },
          { insecureOrigins: [push.url] },
        ),
      ).rejects.toThrow(error);
    expect(await listSubscriptions(h.db, users.Bob!.id)).toEqual(before);
  });

  it("refuses an endpoint on the server's own network (cloud metadata, loopback)", async () => {
    for (const endpoint of [
      "https://169.254.169.254/latest/meta-data",
      "https://[::1]/push/x",
      "https://localhost/push/x",
    ])
      await expect(
        doSubscribe(
          h.db,
          users.Bob!,
          { ...devices.Bob!.subscription, endpoint },
          { insecureOrigins: [push.url] },
        ),
        endpoint,
      ).rejects.toThrow("public address");
  });
});
