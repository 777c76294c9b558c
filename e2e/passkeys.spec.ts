import { type CDPSession, expect, type Page, test } from "@playwright/test";
import { expectConnected, messages, send } from "./support";

/**
 * Passkeys in Chromium with the DevTools protocol's virtual authenticator: a platform
 * authenticator with resident keys and user verification (the fingerprint always
 * matches). WebAuthn needs a secure context and a host name for the relying party (an IP
 * address cannot be one), so these pages are on http://localhost, not 127.0.0.1.
 */
const local = (path: string) => {
  const url = new URL(path, test.info().project.use.baseURL);
  url.hostname = "localhost";
  return url.toString();
};

async function addAuthenticator(page: Page): Promise<{ cdp: CDPSession; id: string }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

let counter = 0;
async function signUp(page: Page, displayName: string) {
  counter += 1;
  await page.goto(local("/signin"));
  await page.getByLabel("Display name").fill(displayName);
  await page
    .getByLabel("Email")
    .fill(`${displayName.toLowerCase()}-${Date.now()}-${counter}@example.test`);
  await page.getByLabel("Password").fill("correct horse battery");
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("button", { name: "New room" })).toBeVisible();
}

async function addPasskey(page: Page) {
  await page.goto(local("/settings"));
  await page.getByRole("button", { name: "Add passkey" }).click();
  const list = page.getByRole("list", { name: "Your passkeys" });
  await expect(list.getByRole("listitem")).toHaveCount(1);
  await expect(list).toContainText("never used to sign in");
}

async function signOut(page: Page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/signin/);
  await expect(page.getByRole("button", { name: "Sign in with a passkey" })).toBeVisible();
}

async function signInWithPasskey(page: Page) {
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByRole("button", { name: "New room" })).toBeVisible();
}

test("add a passkey, sign out, sign in with it and no password; a replay is refused", async ({
  page,
}) => {
  const { cdp, id } = await addAuthenticator(page);
  await signUp(page, "Keyholder");
  await addPasskey(page);
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId: id });
  expect(credentials).toHaveLength(1);
  expect(credentials[0]!.isResidentCredential).toBe(true);

  await signOut(page);
  // Keep what the browser posts to NextAuth, to replay it afterwards.
  const posted = page.waitForRequest(
    (req) => req.method() === "POST" && req.url().endsWith("/api/auth/callback/passkey"),
  );
  await expect(page.getByLabel("Email")).toHaveAttribute("autocomplete", "username webauthn");
  await signInWithPasskey(page);
  const assertion = (await posted).postData()!;
  const session = async () =>
    (await (await page.request.get(local("/api/auth/session"))).json()) as {
      user?: { name?: string };
    };
  expect((await session()).user?.name).toBe("Keyholder");

  await page.goto(local("/settings"));
  const list = page.getByRole("list", { name: "Your passkeys" });
  await expect(list).toContainText("last used");

  // The same signed assertion again, from a signed-out browser: its challenge is spent.
  await signOut(page);
  expect((await session()).user).toBeUndefined();
  const replay = await page.request.post(local("/api/auth/callback/passkey"), {
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: local("/").slice(0, -1),
    },
    data: assertion,
    maxRedirects: 0,
  });
  expect(replay.status()).toBe(401);
  expect((await session()).user).toBeUndefined();

  // A forged one (signature bytes flipped) for a fresh challenge is refused too.
  const options = (await (
    await page.request.post(local("/api/passkeys/signin-options"), {
      headers: { "content-type": "application/json", origin: local("/").slice(0, -1) },
      data: {},
    })
  ).json()) as { options: { challenge: string } };
  expect(options.options.challenge).toMatch(/^[\w-]{20,}$/);
  const form = new URLSearchParams(assertion);
  const response = JSON.parse(form.get("response")!) as {
    response: { clientDataJSON: string; signature: string };
  };
  const clientData = JSON.parse(
    Buffer.from(response.response.clientDataJSON, "base64url").toString(),
  );
  clientData.challenge = options.options.challenge;
  response.response.clientDataJSON = Buffer.from(JSON.stringify(clientData)).toString("base64url");
  form.set("response", JSON.stringify(response));
  const forged = await page.request.post(local("/api/auth/callback/passkey"), {
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      origin: local("/").slice(0, -1),
    },
    data: form.toString(),
    maxRedirects: 0,
  });
  expect(forged.status()).toBe(401);
  expect((await session()).user).toBeUndefined();

  // The real passkey still works, and can be renamed and removed (the password remains).
  await signInWithPasskey(page);
  await page.goto(local("/settings"));
  await list.getByLabel("Passkey name").fill("Work laptop");
  await list.getByRole("button", { name: "Rename" }).click();
  await expect(list).toContainText("Work laptop: added");
  await list.getByRole("button", { name: "Remove passkey" }).click();
  await expect(page.getByText("No passkeys yet.")).toBeVisible();
});

test("a guest adds a passkey, becomes an account and keeps its room and history", async ({
  page,
}) => {
  await addAuthenticator(page);
  await page.goto(local("/signin"));
  await page.getByLabel("Display name").fill("Wanderer");
  await page.getByRole("button", { name: "Continue as guest" }).click();
  await page.getByRole("button", { name: "New room" }).click();
  await page.waitForURL(/\/r\/[0-9a-z-]+$/);
  const room = new URL(page.url()).pathname;
  await expectConnected(page);
  await send(page, "written as a guest");
  await expect(messages(page).filter({ hasText: "written as a guest" })).not.toContainText(
    "Sending",
  );

  await page.goto(local("/settings"));
  await expect(page.getByRole("heading", { name: "Keep this account" })).toBeVisible();
  await page.getByRole("button", { name: "Add passkey" }).click();
  await expect(page.getByRole("list", { name: "Your passkeys" }).getByRole("listitem")).toHaveCount(
    1,
  );
  // No longer a guest: the offer to keep the account is gone.
  await expect(page.getByRole("heading", { name: "Keep this account" })).toBeHidden();

  await signOut(page);
  await signInWithPasskey(page);
  await page.getByRole("link", { name: "Wanderer's room" }).first().click();
  await page.waitForURL((url) => url.pathname === room);
  await expect(messages(page).filter({ hasText: "written as a guest" })).toContainText("Wanderer");
});

test("a guest keeps its rooms with an email and password instead", async ({ page, browser }) => {
  await page.goto(local("/signin"));
  await page.getByLabel("Display name").fill("Settler");
  await page.getByRole("button", { name: "Continue as guest" }).click();
  await page.getByRole("button", { name: "New room" }).click();
  await page.waitForURL(/\/r\/[0-9a-z-]+$/);
  const room = new URL(page.url()).pathname;
  await expectConnected(page);
  await send(page, "kept with a password");
  await expect(messages(page).filter({ hasText: "kept with a password" })).not.toContainText(
    "Sending",
  );

  await page.goto(local("/settings"));
  const email = `settler-${Date.now()}@example.test`;
  const keep = page.getByRole("region", { name: "Keep this account" });
  await keep.getByLabel("Email").fill(email);
  await keep.getByLabel("Password").fill("a long enough password");
  await keep.getByRole("button", { name: "Create account" }).click();
  await expect(page.getByRole("heading", { name: "Keep this account" })).toBeHidden();

  // Another browser signs in with it and finds the room and the message.
  const other = await (await browser.newContext()).newPage();
  await other.goto(local("/signin"));
  await other.getByLabel("Email").fill(email);
  await other.getByLabel("Password").fill("a long enough password");
  await other.getByRole("button", { name: "Sign in" }).click();
  await other.getByRole("link", { name: "Settler's room" }).first().click();
  await other.waitForURL((url) => url.pathname === room);
  await expect(messages(other).filter({ hasText: "kept with a password" })).toContainText(
    "Settler",
  );
  await other.context().close();
});
