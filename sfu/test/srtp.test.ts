import { createCipheriv, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AesGcmSrtp, scratch } from "../srtp/aes-gcm";

/** RFC 7714 by way of node:crypto's AES-GCM: IV = (0 ‖ SSRC ‖ ROC ‖ SEQ) ⊕ salt, AAD = header. */
function reference(key: Buffer, salt: Buffer, packet: Buffer, headerLength: number, roc: number): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(packet.readUInt32BE(8), 2);
  iv.writeUInt32BE(roc, 6);
  iv.writeUInt16BE(packet.readUInt16BE(2), 10);
  for (let i = 0; i < 12; i++) iv[i]! ^= salt[i]!;
  const cipher = createCipheriv("aes-128-gcm", key, iv);
  cipher.setAAD(packet.subarray(0, headerLength));
  return Buffer.concat([packet.subarray(0, headerLength), cipher.update(packet.subarray(headerLength)), cipher.final(), cipher.getAuthTag()]);
}

describe("AES-GCM SRTP", () => {
  it("matches node:crypto and round-trips for header and payload sizes around block edges", () => {
    const key = randomBytes(16);
    const salt = randomBytes(12);
    const srtp = new AesGcmSrtp(key, salt);
    for (const [headerLength, payloadLength] of [[12, 1100], [24, 1100], [20, 37], [12, 0], [28, 15], [12, 16], [16, 1], [12, 1400]] as const) {
      const plain = randomBytes(headerLength + payloadLength);
      plain[0] = 0x80;
      const roc = 70_000;
      const expected = reference(key, salt, plain, headerLength, roc);
      const packet = Buffer.concat([plain, Buffer.alloc(16)]);
      const ssrc = plain.readUInt32BE(8);
      const seq = plain.readUInt16BE(2);
      expect(srtp.protect(packet, headerLength, payloadLength, ssrc, roc, seq)).toBe(expected.length);
      expect(packet.equals(expected)).toBe(true);
      expect(srtp.unprotect(packet, packet.length, headerLength, ssrc, roc, seq)).toBe(plain.length);
      expect(packet.subarray(0, plain.length).equals(plain)).toBe(true);
      // A flipped bit, or the wrong index, fails authentication.
      const forged = Buffer.from(expected);
      forged[forged.length - 1]! ^= 1;
      expect(srtp.unprotect(forged, forged.length, headerLength, ssrc, roc, seq)).toBe(-1);
      expect(srtp.unprotect(Buffer.from(expected), expected.length, headerLength, ssrc, roc + 1, seq)).toBe(-1);
    }
  });

  it("seals in the scratch area with many keys alive", () => {
    const contexts = Array.from({ length: 4 }, () => ({ key: randomBytes(16), salt: randomBytes(12) }));
    const srtps = contexts.map(({ key, salt }) => new AesGcmSrtp(key, salt));
    const plain = randomBytes(12 + 300);
    plain[0] = 0x80;
    for (const [i, srtp] of srtps.entries()) {
      const area = scratch();
      area.set(plain);
      const length = srtp.sealScratch(12, 300, plain.readUInt32BE(8), 0, plain.readUInt16BE(2));
      expect(Buffer.from(area.subarray(0, length)).equals(reference(contexts[i]!.key, contexts[i]!.salt, plain, 12, 0))).toBe(true);
    }
  });
});
