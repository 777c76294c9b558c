import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { decode } from "next-auth/jwt";
import { signUp } from "./support";

/** The e2e server's DATA_DIR, as playwright.config.ts names it. */
const DATA_DIR = process.env.E2E_DATA_DIR ?? `.test-data/e2e-${process.env.E2E_PORT ?? 3210}`;

test("the session JWT carries the user id, the session version and the name, nothing else", async ({
  page,
}) => {
  await signUp(page, "Ada");
  const cookie = (await page.context().cookies()).find((c) => c.name === "next-auth.session-token");
  const { authSecret } = JSON.parse(readFileSync(path.join(DATA_DIR, "secrets.json"), "utf8")) as {
    authSecret: string;
  };
  const token = await decode({ token: cookie!.value, secret: authSecret });
  // docs/architecture.md ("Accounts and sessions") says what each claim is for.
  expect(Object.keys(token!).sort()).toEqual(["exp", "iat", "jti", "name", "sub", "ver"]);
  expect(token).toMatchObject({ name: "Ada", ver: 0 });
});
