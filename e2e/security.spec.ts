import { expect, test } from "@playwright/test";
import { apiGuestCookie, newRoom, send, signUp, transcript } from "./support";

test("pages run under a nonce-only script policy and still work, sockets included", async ({
  page,
}) => {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  const response = await page.goto("/signin");
  const policy = response!.headers()["content-security-policy"] ?? "";
  const scriptSrc = /script-src ([^;]*)/.exec(policy)?.[1] ?? "";
  expect(scriptSrc).toMatch(/^'self' 'nonce-[A-Za-z0-9+/=]+' 'strict-dynamic'$/);
  expect(policy).toMatch(/connect-src 'self' ws:\/\/127\.0\.0\.1:\d+ wss:\/\/127\.0\.0\.1:\d+;/);
  // Every script Next rendered carries this response's nonce.
  const nonce = /'nonce-([^']+)'/.exec(scriptSrc)![1];
  const scripts = await page
    .locator("script")
    .evaluateAll((all) => all.map((s) => (s as HTMLScriptElement).nonce));
  expect(scripts.length).toBeGreaterThan(0);
  expect(new Set(scripts)).toEqual(new Set([nonce]));

  // Hydrated (the form is React) and the socket connects: chat works end to end.
  await signUp(page, "Policy");
  await newRoom(page);
  await send(page, "sent under the policy");
  await expect.poll(() => transcript(page)).toContain("Policy: sent under the policy");
  expect(violations).toEqual([]);
});

test("return paths after sign-in stay on this origin, and never fail", async ({
  baseURL,
  request,
}) => {
  const cookie = await apiGuestCookie(baseURL!, "Returning");
  for (const callbackUrl of [
    "/%09/evil.example",
    "/%0A/evil.example",
    "//evil.example",
    "/%5Cevil.example",
    "https://evil.example/",
  ]) {
    const res = await request.get(`/signin?callbackUrl=${callbackUrl}`, {
      headers: { cookie },
      maxRedirects: 0,
    });
    expect(res.status(), callbackUrl).toBe(307);
    const location = new URL(res.headers().location!, baseURL);
    expect(location.origin, callbackUrl).toBe(new URL(baseURL!).origin);
  }
});

test("a cross-site or non-JSON write is refused and creates nothing", async ({
  baseURL,
  request,
}) => {
  const cookie = await apiGuestCookie(baseURL!, "Target");
  const rooms = async () =>
    (
      (await (await request.get("/api/rooms", { headers: { cookie } })).json()) as {
        rooms: unknown[];
      }
    ).rooms.length;
  const before = await rooms();
  const foreign = await request.post("/api/rooms", {
    headers: { cookie, origin: "https://evil.example", "content-type": "text/plain" },
    data: "{}",
  });
  expect(foreign.status()).toBe(403);
  const plain = await request.post("/api/rooms", {
    headers: { cookie, "content-type": "text/plain" },
    data: "{}",
  });
  expect(plain.status()).toBe(415);
  const huge = await request.post("/api/rooms", {
    headers: { cookie, "content-type": "application/json" },
    data: JSON.stringify({ name: "x".repeat(200_000) }),
  });
  expect(huge.status()).toBe(413);
  expect(await rooms()).toBe(before);
  const allowed = await request.post("/api/rooms", {
    headers: { cookie, origin: baseURL!, "content-type": "application/json" },
    data: "{}",
  });
  expect(allowed.status()).toBe(200);
});
