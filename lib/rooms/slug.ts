import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"; // Crockford base32, lower case

/** 18 symbols × 5 bits = 90 bits from the CSPRNG, as xxxxxx-xxxxxx-xxxxxx. */
export function newRoomSlug(): string {
  const bytes = randomBytes(18);
  let out = "";
  for (let i = 0; i < 18; i++) {
    if (i > 0 && i % 6 === 0) out += "-";
    out += ALPHABET[bytes[i]! & 31];
  }
  return out;
}

/** 128 bits for a private room's invite token. */
export function newInviteToken(): string {
  return randomBytes(16).toString("base64url");
}

/**
 * Whether `given` is the room's invite token, in time that does not depend on how much of
 * it matches (`===` stops at the first difference, which leaks the token byte by byte to
 * someone who can time enough requests). Both sides are hashed first, so the buffers
 * timingSafeEqual compares always have the same length, whatever was given.
 */
export function isInviteToken(given: string, expected: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}
