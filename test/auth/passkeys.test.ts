import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  authenticationResponseSchema,
  beginAuthentication,
  beginRegistration,
  finishAuthentication,
  finishRegistration,
  listPasskeys,
  relyingParty,
  removePasskey,
} from "@/lib/auth/passkeys";
import type { SessionUser } from "@/lib/auth/schemas";
import type { Database } from "@/lib/db/client";
import { passkeys, users, webauthnChallenges } from "@/lib/db/schema";
import { SoftAuthenticator } from "@/test/support/authenticator";
import { openTestDatabase, testDbKinds } from "@/test/support/db";
import { createGuest, createUser } from "@/test/support/fixtures";

const rp = relyingParty({ name: "Parley" }, "localhost:3000");
const settings = { challengeTtlS: 300 };

describe("relyingParty", () => {
  it("takes PUBLIC_URL's host and origin when set, else the request's host", () => {
    expect(
      relyingParty({ name: "P", publicUrl: "https://chat.example.org/x" }, "evil.test"),
    ).toEqual({ id: "chat.example.org", name: "P", origins: ["https://chat.example.org"] });
    expect(rp).toEqual({
      id: "localhost",
      name: "Parley",
      origins: ["http://localhost:3000", "https://localhost:3000"],
    });
    expect(() => relyingParty({ name: "P" }, null)).toThrow("names no host");
  });
});

describe.each(testDbKinds())("passkeys on %s", (kind) => {
  let database: Database;
  let ada: SessionUser;
  let device: SoftAuthenticator;

  beforeAll(async () => {
    database = await openTestDatabase(kind);
    ada = await createUser(database.db, "Ada");
  });
  afterAll(async () => {
    await database?.close();
  });

  async function register(user: SessionUser, authenticator: SoftAuthenticator) {
    const options = await beginRegistration(database.db, user, rp, settings);
    expect(options.authenticatorSelection).toMatchObject({
      residentKey: "required",
      userVerification: "required",
    });
    return finishRegistration(database.db, user, rp, authenticator.register(options), undefined);
  }

  const challenges = async () =>
    (await database.db.select().from(webauthnChallenges)).map((c) => c.challenge);

  it("adds a passkey, storing its key, counter and backup flags", async () => {
    device = new SoftAuthenticator("localhost", "http://localhost:3000");
    const view = await register(ada, device);
    expect(view).toMatchObject({ id: device.id, name: "Synced passkey", backedUp: true });
    const [row] = await database.db.select().from(passkeys).where(eq(passkeys.id, device.id));
    expect(row).toMatchObject({ userId: ada.id, counter: 0, deviceType: "multiDevice" });
    expect(row!.transports).toEqual(["internal"]);
    expect(await challenges()).toEqual([]);
  });

  it("signs in with the passkey and no password, updating counter and last use", async () => {
    const options = await beginAuthentication(database.db, rp, settings);
    expect(options.userVerification).toBe("required");
    expect(options.allowCredentials ?? []).toEqual([]);
    const found = await finishAuthentication(database.db, rp, device.assert(options));
    expect(found).toEqual({ user: ada, sessionVersion: 0 });
    const [passkey] = await listPasskeys(database.db, ada.id);
    expect(passkey!.lastUsedAt).not.toBeNull();
    const [row] = await database.db.select().from(passkeys).where(eq(passkeys.id, device.id));
    expect(row!.counter).toBe(1);
  });

  it("refuses a replayed assertion: its challenge answered once", async () => {
    const options = await beginAuthentication(database.db, rp, settings);
    const assertion = device.assert(options);
    expect(await finishAuthentication(database.db, rp, assertion)).not.toBeNull();
    expect(await finishAuthentication(database.db, rp, assertion)).toBeNull();
    // Even a correct signature over the spent challenge with a higher counter.
    expect(await finishAuthentication(database.db, rp, device.assert(options))).toBeNull();
  });

  it("refuses wrong assertions and spends their challenge all the same", async () => {
    const refused = async (
      forge: Parameters<SoftAuthenticator["assert"]>[1],
      tamper?: (a: ReturnType<SoftAuthenticator["assert"]>) => void,
    ) => {
      const options = await beginAuthentication(database.db, rp, settings);
      const assertion = device.assert(options, forge);
      tamper?.(assertion);
      expect(await finishAuthentication(database.db, rp, assertion)).toBeNull();
      expect(await challenges()).not.toContain(options.challenge);
    };
    await refused({ userVerified: false });
    await refused({ origin: "http://evil.test:3000" });
    await refused({ counter: 1 }); // behind the stored counter: a cloned authenticator
    await refused({}, (a) => {
      const sig = Buffer.from(a.response.signature, "base64url");
      sig[sig.length - 1]! ^= 1;
      a.response.signature = sig.toString("base64url");
    });
    await refused({}, (a) => {
      a.response.userHandle = Buffer.from(crypto.randomUUID()).toString("base64url");
    });
    // A passkey nobody registered.
    const stranger = new SoftAuthenticator("localhost", "http://localhost:3000");
    stranger.userHandle = device.userHandle;
    const options = await beginAuthentication(database.db, rp, settings);
    expect(await finishAuthentication(database.db, rp, stranger.assert(options))).toBeNull();
    // The account still signs in after all that.
    const ok = await beginAuthentication(database.db, rp, settings);
    expect(await finishAuthentication(database.db, rp, device.assert(ok))).not.toBeNull();
  });

  it("takes the size of a post-quantum (ML-DSA-87) signature", () => {
    const options = { challenge: "x", rpId: "localhost" } as never;
    const assertion = device.assert(options);
    assertion.response.signature = Buffer.alloc(4627).toString("base64url");
    expect(authenticationResponseSchema.safeParse(assertion).success).toBe(true);
  });

  it("refuses an expired challenge, and a registration challenge for signing in", async () => {
    const options = await beginAuthentication(database.db, rp, settings);
    await database.db
      .update(webauthnChallenges)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(webauthnChallenges.challenge, options.challenge));
    expect(await finishAuthentication(database.db, rp, device.assert(options))).toBeNull();

    const registration = await beginRegistration(database.db, ada, rp, settings);
    const asSignIn = device.assert({ ...registration, rpId: rp.id } as never);
    expect(await finishAuthentication(database.db, rp, asSignIn)).toBeNull();
  });

  it("refuses a registration answered for another account's challenge", async () => {
    const bob = await createUser(database.db, "Bob");
    const options = await beginRegistration(database.db, bob, rp, settings);
    const other = new SoftAuthenticator("localhost", "http://localhost:3000");
    await expect(
      finishRegistration(database.db, ada, rp, other.register(options), "x"),
    ).rejects.toThrow("expired or was already used");
  });

  it("turns a guest who adds a passkey into an account with the same id", async () => {
    const guest = await createGuest(database.db, "Visitor");
    const phone = new SoftAuthenticator("localhost", "http://localhost:3000", false);
    const view = await register(guest, phone);
    expect(view.name).toBe("Passkey on this device");
    const [row] = await database.db.select().from(users).where(eq(users.id, guest.id));
    expect(row!.isGuest).toBe(false);
    const options = await beginAuthentication(database.db, rp, settings);
    const found = await finishAuthentication(database.db, rp, phone.assert(options));
    expect(found?.user).toEqual({ ...guest, isGuest: false });

    // Its only way in cannot be removed.
    await expect(removePasskey(database.db, guest.id, phone.id)).rejects.toThrow(
      "only way to sign in",
    );
    expect(await listPasskeys(database.db, guest.id)).toHaveLength(1);
    // Someone else's passkey is not yours to remove.
    await expect(removePasskey(database.db, ada.id, phone.id)).rejects.toThrow("No such passkey");
  });
});
