/**
 * RFC 5389 §15.4 MESSAGE-INTEGRITY, checked on a raw STUN message: HMAC-SHA1, keyed with
 * the ICE password (short-term credentials), over the message up to the attribute, with the
 * header's length set as if the attribute ended the message. werift 0.25.2 answers and acts
 * on binding requests without checking it (werift-patches.ts: authenticateChecks).
 */
import { createHmac, timingSafeEqual } from "node:crypto";

const HEADER_LENGTH = 20;
const MESSAGE_INTEGRITY = 0x0008;
const HMAC_LENGTH = 20;

/** Whether `message` carries a MESSAGE-INTEGRITY that `password` produced. */
export function hasValidIntegrity(message: Buffer, password: string): boolean {
  for (let pos = HEADER_LENGTH; pos + 4 <= message.length;) {
    const type = message.readUInt16BE(pos);
    const length = message.readUInt16BE(pos + 2);
    if (type === MESSAGE_INTEGRITY) {
      if (length !== HMAC_LENGTH || pos + 4 + HMAC_LENGTH > message.length) return false;
      const signed = Buffer.from(message.subarray(0, pos));
      signed.writeUInt16BE(pos - HEADER_LENGTH + 4 + HMAC_LENGTH, 2);
      const expected = createHmac("sha1", password).update(signed).digest();
      return timingSafeEqual(expected, message.subarray(pos + 4, pos + 4 + HMAC_LENGTH));
    }
    pos += 4 + length + ((4 - (length % 4)) % 4);
  }
  return false;
}
