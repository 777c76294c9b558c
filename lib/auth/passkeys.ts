import "server-only";
import {
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { and, asc, count, eq, lt, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db, Queryable } from "@/lib/db/client";
import { passkeys, users, webauthnChallenges } from "@/lib/db/schema";
import { AppError, badRequest, notFound } from "@/lib/errors";
import { runtime } from "@/lib/server/runtime";
import type { SessionUser } from "./schemas";
import { toSessionUser } from "./service";

/**
 * Passkeys (WebAuthn) with SimpleWebAuthn: adding one to an account and signing in with one.
 *
 * - Discoverable credentials only (`residentKey: required`), so signing in needs no email:
 *   the browser offers the passkeys it holds for this site (a button, or its autofill on
 *   the email field through conditional mediation).
 * - User verification is required: the device's fingerprint, face or PIN is checked, so a
 *   passkey is two factors in one gesture.
 * - Each challenge is stored (webauthn_challenges) and deleted by the first verification
 *   that reads it, and expires after PASSKEY_CHALLENGE_TTL_S: an assertion answers once.
 * - The signature counter and the backup flags are stored and updated on each use; a
 *   counter that goes backwards (a cloned authenticator) is refused by the library.
 * - The relying party is PUBLIC_URL's host when set, else the request's host
 *   ({@link relyingParty}).
 */

/** Who we are to the authenticator, for one request. */
export interface RelyingParty {
  /** The RP id: a host name (never an IP address, never with a port). */
  id: string;
  name: string;
  /** The origins a ceremony may come from. */
  origins: string[];
}

/**
 * PUBLIC_URL fixes both the RP id and the origin. Without it the request's Host header
 * names them, over http or https (the browser signs the origin it was on; an attacker's
 * page can't claim ours).
 */
export function relyingParty(
  settings: { publicUrl?: string; name: string },
  host: string | null,
): RelyingParty {
  if (settings.publicUrl) {
    const url = new URL(settings.publicUrl);
    return { id: url.hostname, name: settings.name, origins: [url.origin] };
  }
  if (!host) throw badRequest("The request names no host");
  let url: URL;
  try {
    url = new URL(`http://${host}`);
  } catch {
    throw badRequest("The request's host is not valid");
  }
  return {
    id: url.hostname.replace(/^\[|\]$/g, ""),
    name: settings.name,
    origins: [`http://${url.host}`, `https://${url.host}`],
  };
}

export type ChallengePurpose = "register" | "authenticate";

/** Stores a challenge for one ceremony; expired ones are swept on the way. */
async function storeChallenge(
  db: Queryable,
  challenge: string,
  purpose: ChallengePurpose,
  userId: string | null,
  ttlS: number,
): Promise<void> {
  await db.delete(webauthnChallenges).where(lt(webauthnChallenges.expiresAt, sql`now()`));
  await db.insert(webauthnChallenges).values({
    challenge,
    purpose,
    userId,
    expiresAt: sql`now() + make_interval(secs => ${ttlS})`,
  });
}

/**
 * Takes the challenge a response signed, once: the row is deleted whether or not the
 * response then verifies, so neither a replay nor a second try with the same challenge
 * gets anywhere. Null when it is unknown, spent, expired, or someone else's.
 */
async function consumeChallenge(
  db: Queryable,
  clientDataJSON: string,
  purpose: ChallengePurpose,
  userId: string | null,
): Promise<string | null> {
  let challenge: unknown;
  try {
    challenge = (JSON.parse(isoBase64URL.toUTF8String(clientDataJSON)) as { challenge?: unknown })
      .challenge;
  } catch {
    return null;
  }
  if (typeof challenge !== "string" || !challenge) return null;
  const [row] = await db
    .delete(webauthnChallenges)
    .where(
      and(eq(webauthnChallenges.challenge, challenge), eq(webauthnChallenges.purpose, purpose)),
    )
    .returning({
      userId: webauthnChallenges.userId,
      live: sql<boolean>`${webauthnChallenges.expiresAt} > now()`,
    });
  if (!row?.live || row.userId !== userId) return null;
  return challenge;
}

/**
 * The browser's answers, checked for shape before the library reads them. Room for
 * post-quantum keys: SimpleWebAuthn offers ML-DSA, which Chromium's authenticators may
 * pick, with signatures up to 4.6 KB and public keys up to 2.6 KB.
 */
const responseBase = {
  id: z.string().min(1).max(1024),
  rawId: z.string().min(1).max(1024),
  type: z.literal("public-key"),
  clientExtensionResults: z.record(z.string(), z.unknown()).default({}),
  authenticatorAttachment: z.enum(["platform", "cross-platform"]).optional(),
};
export const registrationResponseSchema = z.object({
  ...responseBase,
  response: z.looseObject({
    clientDataJSON: z.string().min(1).max(8192),
    attestationObject: z.string().min(1).max(65536),
    transports: z.array(z.string().max(32)).max(16).optional(),
  }),
});
export const authenticationResponseSchema = z.object({
  ...responseBase,
  response: z.looseObject({
    clientDataJSON: z.string().min(1).max(8192),
    authenticatorData: z.string().min(1).max(16384),
    signature: z.string().min(1).max(16384),
    userHandle: z.string().max(1024).optional(),
  }),
});

export const passkeyNameSchema = z
  .string({ error: "Enter a name for the passkey" })
  .trim()
  .min(1, "Enter a name for the passkey")
  .max(64, "A passkey's name is at most 64 characters");

export interface PasskeySettings {
  challengeTtlS: number;
}

/** A passkey as settings lists it. */
export interface PasskeyView {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  backedUp: boolean;
  deviceType: string;
}

function toView(row: typeof passkeys.$inferSelect): PasskeyView {
  return {
    id: row.id,
    name: row.name,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    backedUp: row.backedUp,
    deviceType: row.deviceType,
  };
}

export async function listPasskeys(db: Queryable, userId: string): Promise<PasskeyView[]> {
  const rows = await db
    .select()
    .from(passkeys)
    .where(eq(passkeys.userId, userId))
    .orderBy(asc(passkeys.createdAt));
  return rows.map(toView);
}

/** The WebAuthn user handle: the account's id, as bytes (no personal data in it). */
const userHandle = (userId: string) => new TextEncoder().encode(userId);

/** Options for `startRegistration` in the browser, for a signed-in user (guests too). */
export async function beginRegistration(
  db: Db,
  user: SessionUser,
  rp: RelyingParty,
  settings: PasskeySettings,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const existing = await db
    .select({ id: passkeys.id, transports: passkeys.transports })
    .from(passkeys)
    .where(eq(passkeys.userId, user.id));
  const options = await generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userID: userHandle(user.id),
    userName: user.email ?? user.displayName,
    userDisplayName: user.displayName,
    attestationType: "none",
    excludeCredentials: existing.map((p) => ({
      id: p.id,
      transports: p.transports as AuthenticatorTransport[],
    })),
    authenticatorSelection: { residentKey: "required", userVerification: "required" },
    timeout: settings.challengeTtlS * 1000,
  });
  await storeChallenge(db, options.challenge, "register", user.id, settings.challengeTtlS);
  return options;
}

/**
 * Verifies a new passkey and stores it. A guest who adds one becomes an account (no
 * longer a guest), keeping its id, so its rooms and history stay its own.
 */
export async function finishRegistration(
  db: Db,
  user: SessionUser,
  rp: RelyingParty,
  response: RegistrationResponseJSON,
  name: string | undefined,
): Promise<PasskeyView> {
  const challenge = await consumeChallenge(
    db,
    response.response.clientDataJSON,
    "register",
    user.id,
  );
  if (!challenge) throw badRequest("That passkey request expired or was already used; try again");
  let verified;
  try {
    verified = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      requireUserVerification: true,
    });
  } catch {
    throw badRequest("The passkey could not be verified");
  }
  if (!verified.verified) throw badRequest("The passkey could not be verified");
  const { credential, credentialDeviceType, credentialBackedUp } = verified.registrationInfo;
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(passkeys)
      .values({
        id: credential.id,
        userId: user.id,
        publicKey: isoBase64URL.fromBuffer(credential.publicKey),
        counter: credential.counter,
        transports: credential.transports ?? [],
        deviceType: credentialDeviceType,
        backedUp: credentialBackedUp,
        name: name ?? defaultName(credentialDeviceType, credentialBackedUp),
      })
      .onConflictDoNothing({ target: passkeys.id })
      .returning();
    if (!row) throw new AppError("conflict", "That passkey is already registered");
    if (user.isGuest) {
      await tx.update(users).set({ isGuest: false }).where(eq(users.id, user.id));
    }
    return toView(row);
  });
}

function defaultName(deviceType: string, backedUp: boolean): string {
  return deviceType === "multiDevice" || backedUp ? "Synced passkey" : "Passkey on this device";
}

/** Options for `startAuthentication`: no allowCredentials, the browser offers what it holds. */
export async function beginAuthentication(
  db: Db,
  rp: RelyingParty,
  settings: PasskeySettings,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const options = await generateAuthenticationOptions({
    rpID: rp.id,
    userVerification: "required",
    timeout: settings.challengeTtlS * 1000,
  });
  await storeChallenge(db, options.challenge, "authenticate", null, settings.challengeTtlS);
  return options;
}

/**
 * The account an assertion signs in, and the session version it gets; null for anything
 * that does not verify: unknown passkey, spent or expired challenge, wrong origin or RP,
 * no user verification, a bad signature, a counter gone backwards.
 */
export async function finishAuthentication(
  db: Db,
  rp: RelyingParty,
  response: AuthenticationResponseJSON,
): Promise<{ user: SessionUser; sessionVersion: number } | null> {
  const challenge = await consumeChallenge(
    db,
    response.response.clientDataJSON,
    "authenticate",
    null,
  );
  if (!challenge) return null;
  const [found] = await db
    .select({ passkey: passkeys, user: users })
    .from(passkeys)
    .innerJoin(users, eq(users.id, passkeys.userId))
    .where(eq(passkeys.id, response.id))
    .limit(1);
  if (!found) return null;
  const { passkey, user } = found;
  if (
    response.response.userHandle &&
    response.response.userHandle !== isoBase64URL.fromBuffer(userHandle(user.id))
  ) {
    return null;
  }
  let verified;
  try {
    verified = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.id,
      requireUserVerification: true,
      credential: {
        id: passkey.id,
        publicKey: isoBase64URL.toBuffer(passkey.publicKey),
        counter: passkey.counter,
        transports: passkey.transports as AuthenticatorTransport[],
      },
    });
  } catch {
    return null;
  }
  if (!verified.verified) return null;
  const info = verified.authenticationInfo;
  await db
    .update(passkeys)
    .set({
      counter: info.newCounter,
      backedUp: info.credentialBackedUp,
      deviceType: info.credentialDeviceType,
      lastUsedAt: sql`now()`,
    })
    .where(eq(passkeys.id, passkey.id));
  return { user: toSessionUser(user), sessionVersion: user.sessionVersion };
}

export async function renamePasskey(
  db: Db,
  userId: string,
  id: string,
  name: string,
): Promise<PasskeyView> {
  const [row] = await db
    .update(passkeys)
    .set({ name })
    .where(and(eq(passkeys.id, id), eq(passkeys.userId, userId)))
    .returning();
  if (!row) throw notFound("No such passkey");
  return toView(row);
}

/**
 * Removes a passkey, unless it is the account's last way in (no password, no other
 * passkey): that would lock the person out.
 */
export async function removePasskey(db: Db, userId: string, id: string): Promise<void> {
  await db.transaction(async (tx) => {
    const [user] = await tx
      .select({ passwordHash: users.passwordHash })
      .from(users)
      .where(eq(users.id, userId))
      .for("update");
    const [{ n } = { n: 0 }] = await tx
      .select({ n: count() })
      .from(passkeys)
      .where(eq(passkeys.userId, userId));
    const [removed] = await tx
      .delete(passkeys)
      .where(and(eq(passkeys.id, id), eq(passkeys.userId, userId)))
      .returning({ id: passkeys.id });
    if (!removed) throw notFound("No such passkey");
    if (!user?.passwordHash && n <= 1) {
      throw new AppError(
        "conflict",
        "This is your only way to sign in: set a password or add another passkey first",
      );
    }
  });
}

/** The relying party and settings for a request to this node (route handlers, NextAuth). */
export function passkeyConfig(host: string | null): {
  rp: RelyingParty;
  settings: PasskeySettings;
} {
  const { config } = runtime();
  return {
    rp: relyingParty({ publicUrl: config.PUBLIC_URL, name: config.PASSKEY_RP_NAME }, host),
    settings: { challengeTtlS: config.PASSKEY_CHALLENGE_TTL_S },
  };
}
