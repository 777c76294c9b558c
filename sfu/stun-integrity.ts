/**
 * The STUN (RFC 5389) the SFU does itself on raw bytes, for ICE connectivity checks:
 *
 * - MESSAGE-INTEGRITY (§15.4) checked on a request: HMAC-SHA1, keyed with the ICE password
 *   (short-term credentials), over the message up to the attribute, with the header's length
 *   set as if the attribute ended the message. werift 0.25.2 answers and acts on binding
 *   requests without checking it (werift-patches.ts: authenticateChecks).
 * - The binding success response to an IPv4 request (XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY,
 *   FINGERPRINT), written in one buffer. werift builds the same response as an object and
 *   serialises it four times (for the HMAC twice, the fingerprint, the send), with an HMAC
 *   key made anew each time; browsers check consent every few seconds per connection.
 *
 * Keys are `KeyObject`s made once per password: with a `Buffer` key Node prepares a new key
 * for every HMAC (about 20 µs here, against 3 µs).
 */
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";
import { isIPv4 } from "node:net";
import { crc32 } from "node:zlib";

const HEADER_LENGTH = 20;
const MAGIC_COOKIE = 0x2112a442;
const BINDING_SUCCESS = 0x0101;
const XOR_MAPPED_ADDRESS = 0x0020;
const MESSAGE_INTEGRITY = 0x0008;
const FINGERPRINT = 0x8028;
const HMAC_LENGTH = 20;
/** RFC 5389 §15.5: the CRC-32 is XORed with this ("STUN"). */
const FINGERPRINT_XOR = 0x5354554e;

/** An HMAC key for an ICE password (a `KeyObject`: see above). */
export function integrityKey(password: string): KeyObject {
  return createSecretKey(Buffer.from(password, "utf8"));
}

/** Whether `message` carries a MESSAGE-INTEGRITY that `password` produced. */
export function hasValidIntegrity(message: Buffer, password: string | KeyObject): boolean {
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

/**
 * The binding success response (RFC 5389 §7.3.1, §15.2) to `request`, which came from
 * `address:port`, signed with `key` (the local password's): XOR-MAPPED-ADDRESS,
 * MESSAGE-INTEGRITY and FINGERPRINT, as werift writes them. Undefined for an IPv6 source,
 * which werift answers.
 */
export function bindingSuccess(
  request: Buffer,
  address: string,
  port: number,
  key: KeyObject,
): Buffer | undefined {
  if (request.length < HEADER_LENGTH || !isIPv4(address)) return undefined;
  const response = Buffer.alloc(HEADER_LENGTH + 12 + 4 + HMAC_LENGTH + 8);
  response.writeUInt16BE(BINDING_SUCCESS, 0);
  response.writeUInt32BE(MAGIC_COOKIE, 4);
  request.copy(response, 8, 8, HEADER_LENGTH); // the transaction id
  let pos = HEADER_LENGTH;
  response.writeUInt16BE(XOR_MAPPED_ADDRESS, pos);
  response.writeUInt16BE(8, pos + 2);
  response.writeUInt16BE(0x0001, pos + 4); // IPv4
  response.writeUInt16BE(port ^ (MAGIC_COOKIE >>> 16), pos + 6);
  const octets = address.split(".").map(Number);
  const ip = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  response.writeUInt32BE((ip ^ MAGIC_COOKIE) >>> 0, pos + 8);
  pos += 12;
  response.writeUInt16BE(pos - HEADER_LENGTH + 4 + HMAC_LENGTH, 2);
  const hmac = createHmac("sha1", key).update(response.subarray(0, pos)).digest();
  response.writeUInt16BE(MESSAGE_INTEGRITY, pos);
  response.writeUInt16BE(HMAC_LENGTH, pos + 2);
  hmac.copy(response, pos + 4);
  pos += 4 + HMAC_LENGTH;
  response.writeUInt16BE(response.length - HEADER_LENGTH, 2);
  response.writeUInt16BE(FINGERPRINT, pos);
  response.writeUInt16BE(4, pos + 2);
  response.writeUInt32BE((crc32(response.subarray(0, pos)) ^ FINGERPRINT_XOR) >>> 0, pos + 4);
  return response;
}
