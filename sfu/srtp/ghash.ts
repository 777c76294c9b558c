/**
 * GHASH (NIST SP 800-38D), the authentication half of AES-GCM: the multiplication tables
 * for one hash key, which the WebAssembly core (`ghash-wat.ts`) multiplies with. (The
 * multiply itself runs only there; RFC 7714's known answers in sfu/test/srtp.test.ts check
 * tables and core together.)
 *
 * Why tables of our own: Node has no GHASH primitive and no way to re-key an AES-GCM cipher
 * with a new IV, so SRTP over node:crypto makes a cipher object per packet, and with
 * OpenSSL 3 that costs 12–40 µs here (docs/sfu.md, "The fast forwarding path").
 *
 * Layout: 4-bit tables, one per nibble position (32 × 16 entries × 16 bytes = 8 KiB per
 * key, small enough that a server with dozens of subscribers keeps them in cache; 8-bit
 * tables were 64 KiB per key and tripled the cost at 50 keys). 128-bit values are four
 * big-endian 32-bit words, word 0 holding bytes 0–3; `table[(position << 6) | (nibble << 2)
 * + word]` is (nibble at that position) · H, position 0 being the high nibble of byte 0.
 */

const POSITIONS = 32;
const ENTRY = 4;

export class Ghash {
  private readonly table = new Int32Array(POSITIONS * 16 * ENTRY);

  constructor(hashKey: Uint8Array) {
    if (hashKey.length !== 16) throw new Error("GHASH key must be 16 bytes");
    // P[k] = H · x^k: bit k (MSB first) of a block multiplies H by x^k.
    const p = new Int32Array(128 * ENTRY);
    p[0] = readWord(hashKey, 0);
    p[1] = readWord(hashKey, 4);
    p[2] = readWord(hashKey, 8);
    p[3] = readWord(hashKey, 12);
    for (let k = 1; k < 128; k++) {
      const a = (k - 1) * ENTRY;
      const b = k * ENTRY;
      const carry = p[a + 3]! & 1;
      p[b] = (p[a]! >>> 1) ^ (carry ? 0xe1000000 : 0);
      p[b + 1] = (p[a + 1]! >>> 1) | (p[a]! << 31);
      p[b + 2] = (p[a + 2]! >>> 1) | (p[a + 1]! << 31);
      p[b + 3] = (p[a + 3]! >>> 1) | (p[a + 2]! << 31);
    }
    const t = this.table;
    for (let position = 0; position < POSITIONS; position++) {
      const base = position << 6;
      for (let nibble = 1; nibble < 16; nibble++) {
        const low = nibble & -nibble; // lowest set bit; its MSB-first index in the nibble is 3 - log2(low)
        const bit = (position * 4 + 3 - Math.log2(low)) * ENTRY;
        const rest = base | ((nibble ^ low) << 2);
        const at = base | (nibble << 2);
        for (let w = 0; w < ENTRY; w++) t[at + w] = t[rest + w]! ^ p[bit + w]!;
      }
    }
  }

  /** The multiplication tables (the WebAssembly core uses the same layout). */
  tableWords(): Int32Array {
    return this.table;
  }
}

export function readWord(data: Uint8Array, offset: number): number {
  return (
    (data[offset]! << 24) | (data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!
  );
}
