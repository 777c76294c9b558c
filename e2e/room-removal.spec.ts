import { expect, test } from "@playwright/test";
import { joinCall, tile } from "./call-support";
import { joinAsGuest, messages, newRoom, send, signUp } from "./support";

/** `Remove from room` (issue 9, R4): the owner removes a guest who has the room open. */
test("the owner removes someone: their tab leaves the room at once and the link no longer admits them", async ({
  page,
  browser,
}) => {
  await signUp(page, "Ada");
  const path = await newRoom(page);
  const grace = await joinAsGuest(browser, path, "Grace");
  const participants = (p: typeof page) => p.getByRole("region", { name: "Participants" });

  // Only the owner has the button, and not beside herself.
  await expect(
    participants(grace.page).getByRole("button", { name: "Remove from room" }),
  ).toHaveCount(0);
  await expect(participants(page).getByRole("button", { name: "Remove from room" })).toHaveCount(1);

  // Both in the room's call: being removed ends Grace's (the shell would keep it otherwise).
  await joinCall(page);
  await joinCall(grace.page);
  await expect(tile(page, "Grace")).toBeVisible();

  page.once("dialog", (dialog) => void dialog.accept());
  await participants(page)
    .getByRole("listitem")
    .filter({ hasText: "Grace" })
    .getByRole("button", { name: "Remove from room" })
    .click();
  await expect(
    grace.page.getByRole("alert").filter({ hasText: "You were removed from" }),
  ).toBeVisible();
  await expect(participants(page).getByRole("listitem").filter({ hasText: "Grace" })).toHaveCount(
    0,
  );
  await expect(tile(page, "Grace")).toHaveCount(0);
  await expect(grace.page.getByRole("complementary", { name: "Your call" })).toHaveCount(0);

  await send(page, "after Grace left");
  await expect(messages(page).filter({ hasText: "after Grace left" })).toBeVisible();
  // Opening the link again does not let her back in.
  await grace.page.goto(path);
  await expect(grace.page.getByRole("heading", { level: 1 })).toHaveText("Room not found");
  await grace.context.close();
});
