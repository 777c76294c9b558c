/**
 * GHASH (NIST SP 800-38D), the authentication half of AES-GCM, in plain JavaScript.
 *
 * Why not node:crypto: Node has no GHASH primitive and no way to re-key an AES-GCM cipher
 * with a new IV, so SRTP over node:crypto makes a cipher object per packet, and with
 * OpenSSL 3 that costs 12–40 µs here (docs/sfu.md, "The fast forwarding path"). With a
 * table per hash key, one 16-byte block costs 16 lookups of 4 words each.
 *
 * Layout: 128-bit values are four big-endian 32-bit words, word 0 holding bytes 0–3.
 * `table[(position << 10) | (byte << 2) + word]` is (byte at that position) · H.
 */

const POSITIONS = 16;
const ENTRY = 4;

export class Ghash {
  private readonly table = new Int32Array(POSITIONS * 256 * ENTRY);
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
      const base = position << 10;
      for (let byte = 1; byte < 256; byte++) {
        const low = byte & -byte; // lowest set bit; its MSB-first index in the byte is 7 - log2(low)
        const bit = position * 8 + 7 - Math.log2(low);
        const rest = base | ((byte ^ low) << 2);
        const at = base | (byte << 2);
        t[at] = t[rest]! ^ p[bit * ENTRY]!;
        t[at + 1] = t[rest + 1]! ^ p[bit * ENTRY + 1]!;
        t[at + 2] = t[rest + 2]! ^ p[bit * ENTRY + 2]!;
        t[at + 3] = t[rest + 3]! ^ p[bit * ENTRY + 3]!;
      }
    }
  }

  /** The multiplication table (for the WebAssembly core, which uses the same layout). */
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

  /** Writes Y XOR `mask[maskOffset..+16]` (the tag: GHASH ⊕ E(K, J0)) to `out`. */
  writeTag(out: Uint8Array, outOffset: number, mask: Uint8Array, maskOffset: number): void {
    writeWord(out, outOffset, this.y0 ^ readWord(mask, maskOffset));
    writeWord(out, outOffset + 4, this.y1 ^ readWord(mask, maskOffset + 4));
    writeWord(out, outOffset + 8, this.y2 ^ readWord(mask, maskOffset + 8));
    writeWord(out, outOffset + 12, this.y3 ^ readWord(mask, maskOffset + 12));
  }

  /** True when the tag at `tag[tagOffset..+16]` matches Y ⊕ mask. */
  checkTag(tag: Uint8Array, tagOffset: number, mask: Uint8Array, maskOffset: number): boolean {
    const diff =
      (this.y0 ^ readWord(mask, maskOffset) ^ readWord(tag, tagOffset)) |
      (this.y1 ^ readWord(mask, maskOffset + 4) ^ readWord(tag, tagOffset + 4)) |
      (this.y2 ^ readWord(mask, maskOffset + 8) ^ readWord(tag, tagOffset + 8)) |
      (this.y3 ^ readWord(mask, maskOffset + 12) ^ readWord(tag, tagOffset + 12));
    return diff === 0;
  }

  /** Y = (Y ⊕ block) · H. */
  block(w0: number, w1: number, w2: number, w3: number): void {
    const t = this.table;
    const a = this.y0 ^ w0;
    const b = this.y1 ^ w1;
    const c = this.y2 ^ w2;
    const d = this.y3 ^ w3;
    let i = ((a >>> 24) << 2) | 0;
    let z0 = t[i]!;
    let z1 = t[i + 1]!;
    let z2 = t[i + 2]!;
    let z3 = t[i + 3]!;
    i = (1 << 10) | (((a >>> 16) & 255) << 2);
    z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (2 << 10) | (((a >>> 8) & 255) << 2);
    z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (3 << 10) | ((a & 255) << 2);
    z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (4 << 10) | ((b >>> 24) << 2);
    z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (5 << 10) | (((b >>> 16) & 255) << 2);
    z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (6 << 10) | (((b >>> 8) & 255) << 2);
    z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (7 << 10) | ((b & 255) << 2);
    z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (8 << 10) | ((c >>> 24) << 2);
    z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (9 << 10) | (((c >>> 16) & 255) << 2);
    z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (10 << 10) | (((c >>> 8) & 255) << 2);
    z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (11 << 10) | ((c & 255) << 2);
    z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (12 << 10) | ((d >>> 24) << 2);
    z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (13 << 10) | (((d >>> 16) & 255) << 2);
    z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (14 << 10) | (((d >>> 8) & 255) << 2);
    z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
    i = (15 << 10) | ((d & 255) << 2);
    z0 ^= t[i]!; z1 ^= t[i + 1]!; z2 ^= t[i + 2]!; z3 ^= t[i + 3]!;
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
