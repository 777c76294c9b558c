/**
 * GHASH (NIST SP 800-38D), the authentication half of AES-GCM: the multiplication tables
 * for one hash key, and a plain JavaScript reference of the multiply that the WebAssembly
 * core (`ghash-wat.ts`) runs on the same tables.
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
  /** Running state Y, one word each. */
  private y0 = 0;
  private y1 = 0;
  private y2 = 0;
  private y3 = 0;

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

  reset(): void {
    this.y0 = this.y1 = this.y2 = this.y3 = 0;
  }

  /** Absorbs `length` bytes of `data` from `offset`, zero-padding the last block. */
  update(data: Uint8Array, offset: number, length: number): void {
    const end = offset + length;
    let i = offset;
    for (; i + 16 <= end; i += 16) {
      this.block(readWord(data, i), readWord(data, i + 4), readWord(data, i + 8), readWord(data, i + 12));
    }
    if (i < end) {
      const w = [0, 0, 0, 0];
      for (let j = 0; i + j < end; j++) w[j >> 2]! |= data[i + j]! << (24 - 8 * (j & 3));
      this.block(w[0]!, w[1]!, w[2]!, w[3]!);
    }
  }

  /** Absorbs the length block (bit lengths of the AAD and the ciphertext). */
  lengths(aadBytes: number, textBytes: number): void {
    // Both lengths stay far below 2^29 bytes, so the high words are zero.
    this.block(0, aadBytes * 8, 0, textBytes * 8);
  }

  /** The state as 16 bytes. */
  digest(): Buffer {
    const out = Buffer.alloc(16);
    writeWord(out, 0, this.y0);
    writeWord(out, 4, this.y1);
    writeWord(out, 8, this.y2);
    writeWord(out, 12, this.y3);
    return out;
  }

  /** Y = (Y ⊕ block) · H, one table lookup per nibble. */
  block(w0: number, w1: number, w2: number, w3: number): void {
    const t = this.table;
    const x = [this.y0 ^ w0, this.y1 ^ w1, this.y2 ^ w2, this.y3 ^ w3];
    let z0 = 0;
    let z1 = 0;
    let z2 = 0;
    let z3 = 0;
    for (let position = 0; position < POSITIONS; position++) {
      const nibble = (x[position >> 3]! >>> (28 - 4 * (position & 7))) & 15;
      const i = (position << 6) | (nibble << 2);
      z0 ^= t[i]!;
      z1 ^= t[i + 1]!;
      z2 ^= t[i + 2]!;
      z3 ^= t[i + 3]!;
    }
    this.y0 = z0;
    this.y1 = z1;
    this.y2 = z2;
    this.y3 = z3;
  }
}

export function readWord(data: Uint8Array, offset: number): number {
  return (data[offset]! << 24) | (data[offset + 1]! << 16) | (data[offset + 2]! << 8) | data[offset + 3]!;
}

export function writeWord(data: Uint8Array, offset: number, word: number): void {
  data[offset] = word >>> 24;
  data[offset + 1] = word >>> 16;
  data[offset + 2] = word >>> 8;
  data[offset + 3] = word;
}
