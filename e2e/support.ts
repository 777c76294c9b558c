import { type Browser, type BrowserContext, expect, type Page } from "@playwright/test";
import { io, type Socket } from "socket.io-client";

let counter = 0;

/** A fresh account, signed in, on the home page. */
export async function signUp(
  page: Page,
  displayName: string,
): Promise<{ email: string; password: string }> {
  counter += 1;
  const email = `${displayName.toLowerCase()}-${Date.now()}-${counter}@example.test`;
  const password = "correct horse battery";
  await page.goto("/signin");
  await page.getByLabel("Display name").fill(displayName);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("button", { name: "New room" })).toBeVisible();
  return { email, password };
}

/** Creates a room from the home page and returns its path. */
export async function newRoom(page: Page): Promise<string> {
  await page.getByRole("button", { name: "New room" }).click();
  await page.waitForURL(/\/r\/[0-9a-z-]+$/);
  await expect(page.getByRole("region", { name: "Chat" })).toBeVisible();
  await expectConnected(page);
  return new URL(page.url()).pathname;
}

/** Renames the room open on `page` (its owner's). */
export async function renameRoom(page: Page, name: string): Promise<void> {
  await page.getByRole("button", { name: "Rename room" }).click();
  await page.getByRole("textbox", { name: "Room name" }).fill(name);
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText(name);
}

/** Opens a room link in a fresh browser context as a guest. */
export async function joinAsGuest(
  browser: Browser,
  path: string,
  displayName: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext();
  return { context, page: await guestIn(context, path, displayName) };
}

/** Opens a room link as a guest in a context the test prepared (e.g. with a refused camera). */
export async function guestIn(
  context: BrowserContext,
  path: string,
  displayName: string,
): Promise<Page> {
  const page = await context.newPage();
  await page.goto(path);
  await expect(page).toHaveURL(/\/signin/);
  await page.getByLabel("Display name").fill(displayName);
  await page.getByRole("button", { name: "Continue as guest" }).click();
  await page.waitForURL((url) => url.pathname === path);
  await expectConnected(page);
  return page;
}

/** Waits until the room's live connection is up: you appear among its participants. */
export async function expectConnected(page: Page) {
  await expect(
    page.getByRole("region", { name: "Participants" }).getByRole("listitem").first(),
  ).toBeVisible();
}

export function messages(page: Page) {
  return page.getByRole("log", { name: "Messages" }).getByRole("article");
}

export async function send(page: Page, text: string) {
  const box = page.getByRole("textbox", { name: "Message" });
  await box.fill(text);
  await box.press("Enter");
}

/** The texts of the room's messages, in order, as "Author: text". */
export async function transcript(page: Page): Promise<string[]> {
  return messages(page).evaluateAll((articles) =>
    articles.map((a) => {
      const author = a.querySelector("header span")?.textContent ?? "";
      const body = a.querySelector("[data-message-body]")?.textContent ?? "";
      return `${author}: ${body.trim()}`;
    }),
  );
}

/**
 * A guest session made over HTTP, as NextAuth's sign-in form would: for tests that need
 * extra people sending messages without a browser each. Returns its Cookie header.
 */
export async function apiGuestCookie(baseURL: string, displayName: string): Promise<string> {
  const csrf = await fetch(`${baseURL}/api/auth/csrf`);
  const { csrfToken } = (await csrf.json()) as { csrfToken: string };
  const csrfCookie = csrf.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
  const res = await fetch(`${baseURL}/api/auth/callback/guest`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: csrfCookie },
    body: new URLSearchParams({ csrfToken, displayName, json: "true" }),
  });
  const session = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0]!)
    .find((c) => c.startsWith("next-auth.session-token="));
  if (!session) throw new Error(`guest sign-in failed: ${res.status}`);
  return session;
}

/**
 * People who join the room over HTTP and talk over their own socket, without a browser:
 * for filling a room with history. `say` sends as the next of them in turn (so each stays
 * within the e2e server's per-person rate limit) and answers the message's seq.
 */
export async function apiSenders(baseURL: string, slug: string, count: number) {
  const people = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const cookie = await apiGuestCookie(baseURL, `Sender ${i + 1}`);
      const joined = await fetch(`${baseURL}/api/rooms/${slug}/membership`, {
        method: "POST",
        headers: { cookie, "content-type": "application/json" },
        body: "{}",
      });
      const { room } = (await joined.json()) as { room: { id: string } };
      const socket: Socket = io(baseURL, {
        path: "/socket.io/",
        transports: ["websocket"],
        extraHeaders: { cookie },
      });
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
      return { socket, roomId: room.id };
    }),
  );
  let turn = 0;
  return {
    async say(body: string): Promise<number> {
      const { socket, roomId } = people[turn++ % people.length]!;
      const ack = (await socket.timeout(5000).emitWithAck("message.send", {
        roomId,
        clientId: crypto.randomUUID(),
        body,
      })) as { ok: true; data: { seq: number } } | { ok: false; error: { message: string } };
      if (!ack.ok) throw new Error(`send refused: ${ack.error.message}`);
      return ack.data.seq;
    },
    close() {
      for (const p of people) p.socket.disconnect();
    },
  };
}
