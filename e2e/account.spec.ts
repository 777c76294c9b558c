import { expect, test } from "@playwright/test";
import { expectConnected, messages, newRoom, send, signUp } from "./support";

test("changing the password ends the other sessions and keeps this one", async ({
  page,
  browser,
}) => {
  const { email, password } = await signUp(page, "Changer");
  const elsewhere = await (await browser.newContext()).newPage();
  await elsewhere.goto("/signin");
  await elsewhere.getByLabel("Email").fill(email);
  await elsewhere.getByLabel("Password").fill(password);
  await elsewhere.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(elsewhere.getByRole("button", { name: "New room" })).toBeVisible();

  await page.goto("/settings");
  await page.getByLabel("Current password").fill("not it");
  await page.getByLabel("New password").fill("a brand new password");
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByRole("alert").filter({ hasText: /./ })).toHaveText(
    "Your current password is not right",
  );
  await page.getByLabel("Current password").fill(password);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByRole("status").filter({ hasText: /./ })).toHaveText(
    "Password changed. Your other sessions have ended.",
  );

  // This browser is still signed in; the other one is not.
  await page.reload();
  await expect(page.getByRole("heading", { name: "Settings" })).toBeVisible();
  await elsewhere.reload();
  await expect(elsewhere).toHaveURL(/\/signin/);
  // Only the new password signs in.
  await elsewhere.getByLabel("Email").fill(email);
  await elsewhere.getByLabel("Password").fill(password);
  await elsewhere.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(elsewhere.getByRole("alert").filter({ hasText: /./ })).toHaveText(
    "Wrong email or password",
  );
  await elsewhere.getByLabel("Password").fill("a brand new password");
  await elsewhere.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(elsewhere.getByRole("button", { name: "New room" })).toBeVisible();
  await elsewhere.context().close();
});

test("deleting the account erases its messages and hands its room on", async ({
  page,
  browser,
}) => {
  const { email, password } = await signUp(page, "Leaver");
  const room = await newRoom(page);
  await send(page, "words that should go");
  const bob = await (await browser.newContext()).newPage();
  await signUp(bob, "Stayer");
  await bob.goto(room);
  await expectConnected(bob);
  await send(bob, "words that stay");
  await expect(messages(bob)).toHaveCount(2);

  await page.goto("/settings");
  await page.getByRole("button", { name: "Delete account" }).click();
  await page.getByLabel("Your password").fill("wrong");
  await page.getByRole("button", { name: "Delete my account permanently" }).click();
  await expect(page.getByRole("alert").filter({ hasText: /./ })).toHaveText(
    "Enter your password to delete your account",
  );
  await page.getByLabel("Your password").fill(password);
  await page.getByRole("button", { name: "Delete my account permanently" }).click();
  await expect(page).toHaveURL(/\/signin/);

  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("alert").filter({ hasText: /./ })).toHaveText(
    "Wrong email or password",
  );

  // The room is Bob's now; only his words remain.
  await bob.reload();
  await expectConnected(bob);
  await expect(messages(bob).filter({ hasText: "words that stay" })).toHaveCount(1);
  await expect(bob.getByRole("log", { name: "Messages" })).not.toContainText(
    "words that should go",
  );
  await bob.context().close();
});
