import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  type BrowserContext,
  type CDPSession,
  chromium,
  expect,
  type Page,
  test,
} from "@playwright/test";
import { chromiumArgs } from "../scripts/chromium";
import type { PushPayload } from "@/lib/notify/schemas";
import { startPushService, type PushService } from "@/test/support/push-service";
import { expectConnected, messages, newRoom, send, signUp } from "./support";

/**
 * Notifications in Chromium. `pushManager.subscribe()` needs the browser vendor's push
 * service, out of reach here, so the page registers a subscription pointing at a local push
 * service (test/support/push-service.ts: it checks the VAPID JWT and decrypts the payload)
 * through Parley's own API; what that service receives is relayed into the service worker
 * with the DevTools protocol's `ServiceWorker.deliverPushMessage`.
 */
const PUSH_PORT = Number(process.env.E2E_PORT ?? 3210) + 1000;

let push: PushService;
test.beforeAll(async () => {
  push = await startPushService({ port: PUSH_PORT });
});
test.afterAll(async () => {
  await push?.close();
});

/** The service worker's registration id, for CDP (after the page's worker is active). */
async function swRegistrationId(page: Page, cdp: CDPSession): Promise<string> {
  await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
  const origin = new URL(page.url()).origin;
  const found = new Promise<string>((resolve) => {
    cdp.on("ServiceWorker.workerRegistrationUpdated", ({ registrations }) => {
      const ours = registrations.find((r) => r.scopeURL.startsWith(origin) && !r.isDeleted);
      if (ours) resolve(ours.registrationId);
    });
  });
  await cdp.send("ServiceWorker.enable");
  return found;
}

async function notificationsShown(page: Page) {
  return page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    return (await registration.getNotifications()).map((n) => ({
      title: n.title,
      body: n.body,
      tag: n.tag,
      data: n.data as { url: string; seq: number },
    }));
  });
}

test("Parley is installable: manifest, icons, service worker, offline page", async ({
  baseURL,
}) => {
  // Chromium never offers to install from an incognito profile (Playwright's contexts
  // are): a persistent profile of its own.
  const profile = await mkdtemp(path.join(tmpdir(), "parley-install-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH,
    args: chromiumArgs,
    baseURL,
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await signUp(page, "Ina");
    await expect(page.locator('link[rel="manifest"]')).toHaveAttribute("href", /manifest/);
    await page.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));
    // The worker controls the page after the first load.
    await page.reload();
    await expect.poll(() => page.evaluate(() => !!navigator.serviceWorker.controller)).toBe(true);
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = await cdp.send("Page.getInstallabilityErrors");
    expect(installabilityErrors).toEqual([]);
    const manifest = (await (await page.request.get("/manifest.webmanifest")).json()) as {
      display: string;
      icons: { sizes: string }[];
    };
    expect(manifest.display).toBe("standalone");
    expect(manifest.icons.map((i) => i.sizes)).toEqual(
      expect.arrayContaining(["192x192", "512x512"]),
    );

    // The server is out of reach: the worker answers a page load with the offline page.
    await context.setOffline(true);
    await page.goto("/settings").catch(() => undefined);
    await expect(page.getByRole("heading", { name: "Parley can't be reached" })).toBeVisible();
    await context.setOffline(false);
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
});

test("a message pushed while the room is not open shows a notification that opens it at the message", async ({
  browser,
  page: ada,
}) => {
  await signUp(ada, "Ada");
  const roomPath = await newRoom(ada);
  const roomName = (await ada.getByRole("heading", { level: 1 }).textContent())!.trim();

  const bobContext: BrowserContext = await browser.newContext();
  await bobContext.grantPermissions(["notifications"]);
  const bob = await bobContext.newPage();
  await signUp(bob, "Bob");
  await bob.goto(roomPath);
  await expectConnected(bob);

  // Bob wants every message of this room (the default for rooms is mentions only).
  await bob.getByRole("button", { name: "Notifications" }).click();
  await bob.getByRole("radio", { name: "All messages" }).check();
  await expect(bob.getByRole("radio", { name: "All messages" })).toBeChecked();
  // The menu closes on Escape, and on a press outside it.
  await bob.keyboard.press("Escape");
  await expect(bob.getByRole("radio", { name: "All messages" })).toBeHidden();
  await bob.getByRole("button", { name: "Notifications" }).click();
  await expect(bob.getByRole("radio", { name: "All messages" })).toBeChecked();
  await bob.getByRole("heading", { level: 1 }).click();
  await expect(bob.getByRole("radio", { name: "All messages" })).toBeHidden();

  // This browser's subscription, made against the local push service.
  const device = push.device("Bob");
  const registered = await bob.evaluate(async (subscription) => {
    const res = await fetch("/api/notifications/subscriptions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(subscription),
    });
    return res.status;
  }, device.subscription);
  expect(registered).toBe(200);

  // While Bob looks at the room, nothing is pushed; once he is elsewhere, it is.
  await bob.goto("/");
  const bobCdp = await bobContext.newCDPSession(bob);
  const registrationId = await swRegistrationId(bob, bobCdp);

  await send(ada, "Lunch at noon, Bob?");
  await push.until(() => push.received.some((r) => r.device === "Bob"), "Bob's push");
  const received = push.received.find((r) => r.device === "Bob")!;
  const payload = received.payload as PushPayload;
  expect(payload.title).toBe(`Ada in ${roomName}`);
  expect(payload.body).toBe("Lunch at noon, Bob?");

  await bobCdp.send("ServiceWorker.deliverPushMessage", {
    origin: new URL(bob.url()).origin,
    registrationId,
    data: JSON.stringify(payload),
  });
  await expect.poll(() => notificationsShown(bob)).toHaveLength(1);
  const [shown] = await notificationsShown(bob);
  expect(shown).toMatchObject({
    title: `Ada in ${roomName}`,
    body: "Lunch at noon, Bob?",
    tag: payload.tag,
    data: { url: `${roomPath}?m=${payload.seq}`, seq: payload.seq },
  });

  // A click. Chromium offers no way to click a notification from a test (neither CDP nor
  // Playwright reach the system's notification centre), so the worker's own click handler
  // (openNotification in public/sw.js) is run in the worker for the shown notification.
  const [worker] = bobContext.serviceWorkers();
  expect(worker).toBeDefined();
  await worker!.evaluate(async () => {
    const scope = self as unknown as {
      registration: ServiceWorkerRegistration;
      openNotification(n: Notification): Promise<void>;
    };
    const [n] = await scope.registration.getNotifications();
    n!.close();
    await scope.openNotification(n!);
  });
  await bob.waitForURL((url) => url.pathname === roomPath && url.searchParams.get("m") !== null);
  const current = messages(bob).and(bob.locator('[aria-current="true"]'));
  await expect(current).toContainText("Lunch at noon, Bob?");
  await bobContext.close();
});

test("a mention typed with the autocomplete notifies its target and not others", async ({
  browser,
  page: ada,
}) => {
  await signUp(ada, "Ada");
  const roomPath = await newRoom(ada);
  const people: Record<string, { context: BrowserContext; page: Page }> = {};
  for (const name of ["Bob", "Cy"]) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await signUp(page, name);
    await page.goto(roomPath);
    await expectConnected(page);
    const device = push.device(`${name}-mention`);
    const status = await page.evaluate(
      (subscription) =>
        fetch("/api/notifications/subscriptions", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(subscription),
        }).then((r) => r.status),
      device.subscription,
    );
    expect(status).toBe(200);
    // Elsewhere: not looking at the room, so pushes are not held back.
    await page.goto("/");
    people[name] = { context, page };
  }

  const box = ada.getByRole("textbox", { name: "Message" });
  await box.pressSequentially("@Bo");
  const list = ada.getByRole("listbox", { name: "Mention" });
  await expect(list.getByRole("option", { name: "Bob" })).toBeVisible();
  await expect(list.getByRole("option", { name: "Cy" })).toHaveCount(0);
  await expect(box).toHaveAttribute("aria-activedescendant", /.+/);
  await box.press("Enter");
  await expect(list).toBeHidden();
  await expect(box).toHaveValue("@Bob ");
  await box.pressSequentially("can you look?");
  await box.press("Enter");
  await expect(messages(ada).last().locator("[data-mention]")).toHaveText("@Bob");

  const pushesTo = (device: string) => push.received.filter((r) => r.device === device);
  await push.until(() => pushesTo("Bob-mention").length === 1, "Bob's mention");
  expect((pushesTo("Bob-mention")[0]!.payload as PushPayload).body).toBe("@Bob can you look?");

  // Cy (rooms notify mentions only, by default) hears of the next @room but not of Bob's
  // mention: the fan-outs run in order, so once the second has reached Cy the first has too.
  await send(ada, "@room thanks all");
  await push.until(() => pushesTo("Cy-mention").length === 1, "Cy's @room");
  expect((pushesTo("Cy-mention")[0]!.payload as PushPayload).body).toBe("@room thanks all");
  await push.until(() => pushesTo("Bob-mention").length === 2, "Bob's @room");
  for (const { context } of Object.values(people)) await context.close();
});
