import type { AddressInfo } from "node:net";
import nodemailer from "nodemailer";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import { doSendMessage } from "@/lib/chat/service";
import type { Database } from "@/lib/db/client";
import { sendDigests } from "@/lib/notify/digest";
import { mentionMarkdown } from "@/lib/notify/schemas";
import { doUpdatePrefs } from "@/lib/notify/service";
import { doCreateRoom, doJoinRoomBySlug, doMarkRead, doOpenDirectRoom } from "@/lib/rooms/service";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { createGuest, createUser } from "@/test/support/fixtures";

interface Mail {
  to: string[];
  raw: string;
}

/** A local SMTP server (smtp-server) that keeps every mail it is handed. */
async function startSmtp() {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        mails.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: decodeQuotedPrintable(Buffer.concat(chunks).toString("utf8")),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.server.address() as AddressInfo).port;
  return {
    mails,
    url: `smtp://127.0.0.1:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Undoes quoted-printable (soft breaks, =XX bytes), then reads the bytes as UTF-8. */
function decodeQuotedPrintable(s: string): string {
  const bytes = s
    .replace(/=\r?\n/g, "")
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(bytes, "latin1").toString("utf8");
}

describe.each(testDbKinds())("the email digest on %s", (kind) => {
  let database: Database;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let ada: SessionUser;
  let bob: SessionUser;
  let cat: SessionUser;
  let dan: SessionUser;
  let slug: string;
  let roomId: string;
  const limits = { maxMessageLength: 4000 };
  const say = (user: SessionUser, room: string, body: string) =>
    doSendMessage(database.db, user, { roomId: room, clientId: crypto.randomUUID(), body }, limits);
  const digest = () =>
    sendDigests(database.db, {
      transport: nodemailer.createTransport(smtp.url),
      from: "Parley <parley@parley.test>",
      baseUrl: "https://parley.test",
      delayMs: 10 * 60_000,
      now: new Date(Date.now() + 11 * 60_000),
    });

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    smtp = await startSmtp();
    ada = await createUser(database.db, "Ada");
    bob = await createUser(database.db, "Bob");
    cat = await createUser(database.db, "Cat");
    dan = await createUser(database.db, "Dan");
    const guest = await createGuest(database.db, "Gus");
    const room = await doCreateRoom(database.db, ada, { kind: "open", name: "Design" });
    roomId = room.room.id;
    slug = room.room.slug;
    for (const u of [bob, cat, dan, guest]) await doJoinRoomBySlug(database.db, u, slug);
  });
  afterAll(async () => {
    await smtp?.close();
    await database?.close();
  });

  it("mails unread mentions and direct messages once, one digest per person, with links", async () => {
    await doUpdatePrefs(database.db, dan.id, { emailDigest: false });
    const toBob = await say(ada, roomId, `${mentionMarkdown(bob.id, "Bob")} review <this>?`);
    await say(ada, roomId, "plain chatter, mailed to no one");
    const toCat = await say(ada, roomId, `${mentionMarkdown(cat.id, "Cat")} you too`);
    await say(ada, roomId, `${mentionMarkdown(dan.id, "Dan")} (Dan turned email off)`);
    const direct = await doOpenDirectRoom(database.db, ada, bob.id);
    const dm = await say(ada, direct.room.id, "just us");
    // Cat read hers: nothing to mail.
    await doMarkRead(database.db, cat.id, roomId, toCat.message.seq);

    expect((await digest()).sort()).toEqual([bob.id]);
    expect(smtp.mails).toHaveLength(1);
    const [mail] = smtp.mails;
    expect(mail!.to).toEqual([bob.email]);
    expect(mail!.raw).toContain("Subject: 2 messages for you in Parley");
    expect(mail!.raw).toContain("Design — Ada: @Bob review <this>?");
    expect(mail!.raw).toContain(`https://parley.test/r/${slug}?m=${toBob.message.seq}`);
    expect(mail!.raw).toContain(`https://parley.test/r/${direct.room.slug}?m=${dm.message.seq}`);
    expect(mail!.raw).toContain("@Bob review &#60;this&#62;?");
    expect(mail!.raw).not.toContain("plain chatter");

    // Mailed once.
    expect(await digest()).toEqual([]);
    expect(smtp.mails).toHaveLength(1);
  });

  it("mails each digest once when several web nodes look at the same minute", async () => {
    const before = smtp.mails.length;
    const first = await say(ada, roomId, `${mentionMarkdown(cat.id, "Cat")} one`);
    const second = await say(ada, roomId, `${mentionMarkdown(cat.id, "Cat")} two`);
    // Four nodes' timers at once (on Postgres, over concurrent connections).
    const mailed = (await Promise.all([digest(), digest(), digest(), digest()])).flat();
    expect(mailed.filter((id) => id === cat.id)).toHaveLength(1);
    const toCat = smtp.mails.slice(before).filter((m) => m.to.includes(cat.email!));
    expect(toCat).toHaveLength(1);
    expect(toCat[0]!.raw).toContain(`?m=${first.message.seq}`);
    expect(toCat[0]!.raw).toContain(`?m=${second.message.seq}`);
    expect(await digest()).toEqual([]);
  });

  it("gives a digest back when the mail cannot be sent, and mails it next time", async () => {
    await say(ada, roomId, `${mentionMarkdown(cat.id, "Cat")} after the outage`);
    const failing = {
      sendMail: () => Promise.reject(new Error("SMTP is down")),
    };
    await expect(
      sendDigests(database.db, {
        transport: failing,
        from: "Parley <parley@parley.test>",
        baseUrl: "https://parley.test",
        delayMs: 0,
        now: new Date(Date.now() + 60_000),
      }),
    ).rejects.toThrow("SMTP is down");
    const before = smtp.mails.length;
    expect(await digest()).toEqual([cat.id]);
    expect(smtp.mails.slice(before)[0]!.raw).toContain("after the outage");
  });

  it("waits for the delay before mailing", async () => {
    await say(ada, roomId, `${mentionMarkdown(bob.id, "Bob")} fresh`);
    const early = await sendDigests(database.db, {
      transport: nodemailer.createTransport(smtp.url),
      from: "Parley <parley@parley.test>",
      baseUrl: "https://parley.test",
      delayMs: 10 * 60_000,
    });
    expect(early).toEqual([]);
  });
});
