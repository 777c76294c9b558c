import { randomBytes } from "node:crypto";

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
