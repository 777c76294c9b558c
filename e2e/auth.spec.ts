import { expect, test } from "@playwright/test";
import { signUp } from "./support";

test("too many sign-ins to one account are refused with how long to wait", async ({
  page,
  browser,
}) => {
  // Signing up signs in once: that is the first of the account's 10 attempts.
  const { email, password } = await signUp(page, "Limited");
  const other = await browser.newPage();
  await other.goto("/signin");
  await other.getByLabel("Email").fill(email);
  await other.getByLabel("Password").fill("not the password");
  const signIn = other.getByRole("button", { name: "Sign in", exact: true });
  // The form's alert (Next's route announcer is an empty one).
  const alert = other.getByRole("alert").filter({ hasText: /./ });
  for (let i = 0; i < 9; i++) {
    await signIn.click();
    await expect(alert).toHaveText("Wrong email or password");
    await expect(signIn).toBeEnabled();
  }
  await signIn.click();
  await expect(alert).toHaveText("Too many sign-in attempts; try again in 15 minutes");
  // Even the right password waits now.
  await other.getByLabel("Password").fill(password);
  await signIn.click();
  await expect(alert).toHaveText(/^Too many sign-in attempts; try again in 1[45] minutes$/);
  await expect(other).toHaveURL(/\/signin/);
  await other.close();
});

test("Sign out everywhere ends the sessions on every device", async ({ page, browser }) => {
  const { email, password } = await signUp(page, "Everywhere");
  const laptop = await browser.newContext();
  const elsewhere = await laptop.newPage();
  await elsewhere.goto("/signin");
  await elsewhere.getByLabel("Email").fill(email);
  await elsewhere.getByLabel("Password").fill(password);
  await elsewhere.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(elsewhere.getByRole("button", { name: "New room" })).toBeVisible();

  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByRole("button", { name: "Sign out everywhere" }).click();
  await expect(page).toHaveURL(/\/signin/);

  await elsewhere.reload();
  await expect(elsewhere).toHaveURL(/\/signin/);
  await expect(elsewhere.getByRole("button", { name: "Continue as guest" })).toBeVisible();
  await laptop.close();
});
