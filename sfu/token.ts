/**
 * Call tokens: short-lived HS256 JWTs that the web node mints for a room member and the
 * SFU verifies. The only credential the SFU accepts; it never sees the database.
 *
 * Minting and verifying live in one file so both sides share one definition of the claims.
 * No werift and no Node-only imports: the web node (and its tests) import this directly.
 */
import { errors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { TokenError } from "./errors";
import { Id } from "./protocol";

/** Tokens live at most this long: long enough to connect, too short to be worth stealing. */
export const MAX_TOKEN_TTL_S = 60;
const ISSUER = "parley-web";
const AUDIENCE = "parley-sfu";
/** Tolerated clock difference between the web node and the SFU node. */
const CLOCK_TOLERANCE_S = 5;

/** What a call token grants, as both sides see it. */
export interface CallGrant {
  roomId: string;
  userId: string;
  displayName: string;
  mayPublish: boolean;
}

/** A verified token: the grant plus its identity, for replay protection. */
export interface VerifiedCallToken extends CallGrant {
  jti: string;
  expiresAt: number;
}

const claimsSchema = z.object({
  sub: z.string().min(1).max(128),
  room: Id,
  name: z.string().min(1).max(100),
  pub: z.boolean(),
  jti: z.string().min(16).max(64),
  iat: z.number().int(),
  exp: z.number().int(),
});

function keyOf(secret: string): Uint8Array {
  if (secret.length < 32) throw new Error("the call token secret must be at least 32 characters");
  return new TextEncoder().encode(secret);
}

/**
 * Signs a single-use token for one participant of one room. Pure apart from the clock and
 * a random jti; `now` (seconds) is for tests.
 */
export async function mintCallToken(
  secret: string,
  grant: CallGrant,
  options: { ttlSeconds?: number; now?: number } = {},
): Promise<string> {
  const ttl = options.ttlSeconds ?? MAX_TOKEN_TTL_S;
  if (ttl <= 0 || ttl > MAX_TOKEN_TTL_S)
    throw new Error(`token TTL must be 1..${MAX_TOKEN_TTL_S} s`);
  const iat = options.now ?? Math.floor(Date.now() / 1000);
  return new SignJWT({ room: grant.roomId, name: grant.displayName, pub: grant.mayPublish })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(grant.userId)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .setJti(crypto.randomUUID())
    .sign(keyOf(secret));
}

/**
 * Remembers the jti of every token used until it expires, so each token is accepted once.
 * Memory is bounded by the join rate times the token lifetime.
 */
export class UsedTokens {
  private readonly expiryByJti = new Map<string, number>();

  /** Returns false when the jti was already used. */
  use(jti: string, expiresAt: number, now = Date.now() / 1000): boolean {
    this.prune(now);
    if (this.expiryByJti.has(jti)) return false;
    this.expiryByJti.set(jti, expiresAt + CLOCK_TOLERANCE_S);
    return true;
  }

  get size(): number {
    return this.expiryByJti.size;
  }

  private prune(now: number): void {
    // Entries are inserted roughly in expiry order, so stop at the first live one.
    for (const [jti, expiry] of this.expiryByJti) {
      if (expiry > now) break;
      this.expiryByJti.delete(jti);
    }
  }
}

/**
 * Verifies signature (HS256 only), issuer, audience, expiry and lifetime, then consumes
 * the token. Throws {@link TokenError} with `invalid_token`, `token_expired` or
 * `token_replayed`.
 */
export async function verifyCallToken(
  secret: string,
  token: string,
  used: UsedTokens,
  options: { now?: number } = {},
): Promise<VerifiedCallToken> {
  const now = options.now ?? Date.now() / 1000;
  let payload: unknown;
  try {
    ({ payload } = await jwtVerify(token, keyOf(secret), {
      algorithms: ["HS256"],
      issuer: ISSUER,
      audience: AUDIENCE,
      clockTolerance: CLOCK_TOLERANCE_S,
      currentDate: new Date(now * 1000),
      requiredClaims: ["exp", "iat", "jti", "sub"],
    }));
  } catch (err) {
    if (err instanceof errors.JWTExpired)
      throw new TokenError("token_expired", "the call token has expired");
    throw new TokenError("invalid_token", "the call token is not valid");
  }
  const claims = claimsSchema.safeParse(payload);
  if (!claims.success)
    throw new TokenError("invalid_token", "the call token's claims are malformed");
  const { sub, room, name, pub, jti, iat, exp } = claims.data;
  // A token minted elsewhere with a long life is refused even if correctly signed.
  if (exp - iat > MAX_TOKEN_TTL_S || iat > now + CLOCK_TOLERANCE_S) {
    throw new TokenError("invalid_token", "the call token's lifetime is not acceptable");
  }
  if (!used.use(jti, exp, now))
    throw new TokenError("token_replayed", "the call token was already used");
  return { roomId: room, userId: sub, displayName: name, mayPublish: pub, jti, expiresAt: exp };
}
