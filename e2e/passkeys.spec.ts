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

/**
 * Signs out. Back on /signin, the email field's passkey autofill (conditional mediation)
 * starts at once, and the virtual authenticator answers it as a person picking the
 * suggested passkey would: the browser is signed in again with the passkey, no password
 * typed. Resolves with the assertion the browser posted.
 */
async function signOutAndBackWithAutofill(page: Page): Promise<string> {
  const signedIn = page.waitForResponse(
    (res) => res.url().endsWith("/api/auth/callback/passkey") && res.status() === 200,
  );
  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  const assertion = (await signedIn).request().postData()!;
  await expect(page.getByRole("button", { name: "New room" })).toBeVisible();
  return assertion;
}

const originOf = (path: string) => new URL(local(path)).origin;

test("add a passkey, sign in with it and no password; replayed and forged assertions are refused", async ({
  page,
  browser,
}) => {
  const { cdp, id } = await addAuthenticator(page);
  await signUp(page, "Keyholder");
  await addPasskey(page);
  const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId: id });
  expect(credentials).toHaveLength(1);
  expect(credentials[0]!.isResidentCredential).toBe(true);

  const assertion = await signOutAndBackWithAutofill(page);
  await page.goto(local("/settings"));
  const list = page.getByRole("list", { name: "Your passkeys" });
  await expect(list).toContainText("last used");

  // `Sign in with a passkey` in another browser, no password: the same passkey, synced as a
  // password manager syncs it (its state now, signature counter included: the copy taken
  // before the sign-in above is a clone whose counter is behind, and is refused), in an
  // authenticator that had nothing to offer when the page's autofill asked. The virtual
  // authenticator never answers a request made before it held the passkey, so only the
  // button's ceremony can sign in, whatever the timing.
  const laptop = await browser.newContext();
  const other = await laptop.newPage();
  await other.addInitScript(() => {
    const get = navigator.credentials.get.bind(navigator.credentials);
    const asked: string[] = [];
    Object.assign(window, { webauthnAsked: asked });
    navigator.credentials.get = (options) => {
      asked.push(options?.mediation ?? "optional");
      return get(options);
    };
  });
  const signIns: number[] = [];
  other.on("response", (res) => {
    if (res.url().endsWith("/api/auth/callback/passkey")) signIns.push(res.status());
  });
  const { cdp: otherCdp, id: otherId } = await addAuthenticator(other);
  await other.goto(local("/signin"));
  await other.waitForFunction(() =>
    (window as unknown as { webauthnAsked: string[] }).webauthnAsked.includes("conditional"),
  );
  const { credentials: synced } = await cdp.send("WebAuthn.getCredentials", {
    authenticatorId: id,
  });
  expect(synced[0]!.signCount).toBeGreaterThan(credentials[0]!.signCount);
  await otherCdp.send("WebAuthn.addCredential", {
    authenticatorId: otherId,
    credential: synced[0]!,
  });
  await other.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(other.getByRole("button", { name: "New room" })).toBeVisible();
  expect(signIns, "one sign-in, the button's, accepted").toEqual([200]);
  await laptop.close();

  // The same signed assertion again, from a browser with no session: its challenge is spent.
  const stranger = await browser.newContext();
  const session = async () =>
    (await (await stranger.request.get(local("/api/auth/session"))).json()) as {
      user?: { name?: string };
    };
  const post = async (form: URLSearchParams) => {
    const { csrfToken } = (await (await stranger.request.get(local("/api/auth/csrf"))).json()) as {
      csrfToken: string;
    };
    form.set("csrfToken", csrfToken);
    return stranger.request.post(local("/api/auth/callback/passkey"), {
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: originOf("/"),
      },
      data: form.toString(),
      maxRedirects: 0,
    });
  };
  expect((await post(new URLSearchParams(assertion))).status()).toBe(401);
  expect((await session()).user).toBeUndefined();

  // The assertion moved onto a fresh challenge: its signature no longer matches.
  const { options } = (await (
    await stranger.request.post(local("/api/passkeys/signin-options"), {
      headers: { "content-type": "application/json", origin: originOf("/") },
      data: {},
    })
  ).json()) as { options: { challenge: string } };
  const form = new URLSearchParams(assertion);
  const response = JSON.parse(form.get("response")!) as { response: { clientDataJSON: string } };
  const clientData = JSON.parse(
    Buffer.from(response.response.clientDataJSON, "base64url").toString(),
  ) as { challenge: string };
  clientData.challenge = options.challenge;
  response.response.clientDataJSON = Buffer.from(JSON.stringify(clientData)).toString("base64url");
  form.set("response", JSON.stringify(response));
  expect((await post(form)).status()).toBe(401);
  expect((await session()).user).toBeUndefined();
  await stranger.close();

  // Rename, then remove it (the password remains a way in).
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

  await signOutAndBackWithAutofill(page);
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
  await other.getByRole("button", { name: "Sign in", exact: true }).click();
  await other.getByRole("link", { name: "Settler's room" }).first().click();
  await other.waitForURL((url) => url.pathname === room);
  await expect(messages(other).filter({ hasText: "kept with a password" })).toContainText(
    "Settler",
  );
  await other.context().close();
});
