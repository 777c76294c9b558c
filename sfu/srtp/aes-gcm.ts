/**
 * SRTP with AEAD_AES_128_GCM (RFC 7714) for the forwarding path, without a cipher object
 * per packet. node:crypto cannot re-key an AES-GCM cipher with a new IV, and making one
 * costs 12–40 µs with OpenSSL 3 on our machines, more than everything else a forwarded
 * packet costs. So: one long-lived AES-128-ECB cipher per session key encrypts the counter
 * blocks (the CTR keystream, one native call per packet, AES-NI inside), and a small
 * WebAssembly module (`ghash-wat.ts`) XORs the keystream and computes GHASH from an
 * 8 KiB table per key. Session keys and salts come from werift's DTLS-SRTP key
 * derivation (`srtp-keys.ts`). See docs/sfu.md, "The fast forwarding path".
 *
 * A packet is sealed in the module's scratch area: write the RTP header and payload into
 * {@link AesGcmSrtp.scratch}, call `sealScratch`, copy the result out.
 */
import { type Cipheriv, createCipheriv } from "node:crypto";
import { Ghash, readWord } from "./ghash";
import { GHASH_WASM } from "./ghash-wasm";

export const GCM_TAG_LENGTH = 16;
const BLOCK = 16;
/** Largest RTP packet we handle (an Ethernet MTU and then some). */
export const MAX_RTP_LENGTH = 1500;
const MAX_BLOCKS = Math.ceil(MAX_RTP_LENGTH / BLOCK) + 1;
const PAGE = 65536;
/** One GHASH table; slot 0 is the scratch area. */
const SLOT = 8192;
/** Scratch page layout: packet, keystream, one padding block. */
const PACKET_AT = 0;
const KEYSTREAM_AT = 2048;
const TMP_AT = 4096;

interface GcmCore {
  memory: WebAssembly.Memory;
  seal(table: number, pkt: number, hlen: number, plen: number, ks: number, tmp: number): void;
  open(table: number, pkt: number, hlen: number, plen: number, ks: number, tmp: number): number;
}

const core = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(GHASH_WASM, "base64")))
  .exports as unknown as GcmCore;
let bytes = new Uint8Array(core.memory.buffer);
/** The same memory as a Buffer, for native copies without allocating views. */
let memory = Buffer.from(core.memory.buffer);
/** Table slots given back by collected contexts. */
const freeSlots: number[] = [];
let nextSlot = 1;
const slots = new FinalizationRegistry<number>((slot) => freeSlots.push(slot));

function allocateSlot(): number {
  const reused = freeSlots.pop();
  if (reused !== undefined) return reused;
  const slot = nextSlot++;
  const needed = (slot + 1) * SLOT;
  if (needed > core.memory.buffer.byteLength) {
    core.memory.grow(Math.ceil((needed - core.memory.buffer.byteLength) / PAGE));
    bytes = new Uint8Array(core.memory.buffer);
    memory = Buffer.from(core.memory.buffer);
  }
  return slot;
}

/**
 * The scratch area: a packet to seal is written at offset 0. The view is replaced when the
 * memory grows (a new context), so fetch it per packet rather than keeping it.
 */
export function scratch(): Uint8Array {
  return bytes;
}

/**
 * The scratch area as a Buffer (offset 0 is where a sealed packet starts), for a native
 * copy straight to where it is sent. Replaced when the memory grows: fetch it per packet.
 */
export function scratchBuffer(): Buffer {
  return memory;
}

/** SRTCP: the RTCP bytes left in the clear (header and sender SSRC), and the AAD's length with the trailer. */
const RTCP_CLEAR = 8;
const RTCP_AAD = RTCP_CLEAR + 4;

function writeWord(target: Uint8Array, at: number, value: number): void {
  target[at] = value >>> 24;
  target[at + 1] = (value >>> 16) & 0xff;
  target[at + 2] = (value >>> 8) & 0xff;
  target[at + 3] = value & 0xff;
}

/** Packets per keystream batch: one native AES call serves this many packets of a stream. */
const BATCH = 16;
/** Counter blocks for one batch; the words are stored byte-swapped (little-endian view). */
const counterWords = new Int32Array(BATCH * MAX_BLOCKS * 4);
const counterBytes = Buffer.from(counterWords.buffer);

/**
 * Keystream made ahead for the next packets of one SSRC. Streams are sequential, so one
 * ECB call per {@link BATCH} packets replaces one per packet (each call costs a few µs of
 * fixed overhead and allocates its output).
 */
interface KeystreamBatch {
  /** Packet index (ROC · 65536 + SEQ) of the first packet in the batch. */
  first: number;
  /** Blocks per packet: E(K, J0) plus the payload's. */
  blocks: number;
  data: Buffer;
}

export class AesGcmSrtp {
  private readonly ecb: Cipheriv;
  private readonly table: number;
  /** Salt as three words: IV = (0x0000 ‖ SSRC ‖ ROC ‖ SEQ) ⊕ salt. */
  private readonly salt0: number;
  private readonly salt1: number;
  private readonly salt2: number;
  private readonly batches = new Map<number, KeystreamBatch>();

  constructor(sessionKey: Uint8Array, sessionSalt: Uint8Array) {
    // werift derives 14 salt bytes for either profile; GCM uses the first 12 (RFC 7714 §12).
    if (sessionKey.length !== 16 || sessionSalt.length < 12)
      throw new Error("AES-128-GCM SRTP needs a 16-byte key and a 12-byte salt");
    this.ecb = createCipheriv("aes-128-ecb", sessionKey, null);
    this.ecb.setAutoPadding(false);
    const slot = allocateSlot();
    this.table = slot * SLOT;
    slots.register(this, slot);
    writeTable(new Ghash(this.ecb.update(Buffer.alloc(BLOCK))), bytes, this.table);
    this.salt0 = readWord(sessionSalt, 0);
    this.salt1 = readWord(sessionSalt, 4);
    this.salt2 = readWord(sessionSalt, 8);
  }

  /**
   * Encrypts the RTP packet in {@link scratch} (`headerLength` + `payloadLength` bytes) in
   * place and writes the tag after it. Returns the SRTP length.
   */
  sealScratch(
    headerLength: number,
    payloadLength: number,
    ssrc: number,
    roc: number,
    seq: number,
  ): number {
    this.keystream(ssrc, roc, seq, payloadLength);
    core.seal(this.table, PACKET_AT, headerLength, payloadLength, KEYSTREAM_AT, TMP_AT);
    return headerLength + payloadLength + GCM_TAG_LENGTH;
  }

  /** Encrypts a plaintext RTP packet held in `packet` (with room for the tag) in place. */
  protect(
    packet: Uint8Array,
    headerLength: number,
    payloadLength: number,
    ssrc: number,
    roc: number,
    seq: number,
  ): number {
    bytes.set(packet.subarray(0, headerLength + payloadLength), PACKET_AT);
    const length = this.sealScratch(headerLength, payloadLength, ssrc, roc, seq);
    packet.set(bytes.subarray(PACKET_AT, PACKET_AT + length));
    return length;
  }

  /**
   * Checks the tag of an SRTP packet of `length` bytes and decrypts its payload in place.
   * Returns the plaintext RTP length, or -1 when authentication fails.
   */
  unprotect(
    packet: Uint8Array,
    length: number,
    headerLength: number,
    ssrc: number,
    roc: number,
    seq: number,
  ): number {
    const payloadLength = length - headerLength - GCM_TAG_LENGTH;
    if (payloadLength < 0 || length > MAX_RTP_LENGTH + GCM_TAG_LENGTH) return -1;
    bytes.set(packet.subarray(0, length), PACKET_AT);
    // Anyone can send a packet with any SSRC and seq: the batch made for it is kept only
    // once its tag checks, or forged packets would fill memory with batches (one per
    // made-up SSRC) and evict the real streams' (issue 9, R8).
    const made = this.keystream(ssrc, roc, seq, payloadLength, false);
    if (!core.open(this.table, PACKET_AT, headerLength, payloadLength, KEYSTREAM_AT, TMP_AT))
      return -1;
    if (made) this.batches.set(ssrc, made);
    packet.set(
      bytes.subarray(PACKET_AT + headerLength, PACKET_AT + headerLength + payloadLength),
      headerLength,
    );
    return headerLength + payloadLength;
  }

  /**
   * Encrypts a compound RTCP packet as SRTCP (RFC 7714 §9) with this context's SRTCP session
   * key and salt at `index` (31 bits): the first 8 bytes stay in the clear, the rest is
   * encrypted, then the tag and the E flag ‖ SRTCP index. The AAD is the 8 clear bytes and
   * that trailer, so the scratch area holds them together ahead of the plaintext.
   */
  protectRtcp(rtcp: Uint8Array, index: number): Buffer {
    const length = rtcp.length;
    const payloadLength = length - RTCP_CLEAR;
    if (payloadLength < 0 || length > MAX_RTP_LENGTH) throw new RangeError("bad RTCP length");
    const ssrc = readWord(rtcp, 4) >>> 0;
    const trailer = (0x80000000 | index) >>> 0;
    bytes.set(rtcp.subarray(0, RTCP_CLEAR), PACKET_AT);
    writeWord(bytes, PACKET_AT + RTCP_CLEAR, trailer);
    bytes.set(rtcp.subarray(RTCP_CLEAR), PACKET_AT + RTCP_AAD);
    this.sealScratch(RTCP_AAD, payloadLength, ssrc, index >>> 16, index & 0xffff);
    const out = Buffer.allocUnsafe(length + GCM_TAG_LENGTH + 4);
    memory.copy(out, 0, PACKET_AT, PACKET_AT + RTCP_CLEAR);
    memory.copy(
      out,
      RTCP_CLEAR,
      PACKET_AT + RTCP_AAD,
      PACKET_AT + RTCP_AAD + payloadLength + GCM_TAG_LENGTH,
    );
    writeWord(out, length + GCM_TAG_LENGTH, trailer);
    return out;
  }

  /**
   * Checks and decrypts an SRTCP packet (RFC 7714 §9). Returns the RTCP packet, or null when
   * it does not authenticate, or undefined when it is not encrypted (E = 0, which no browser
   * sends: the caller's general path handles it).
   */
  unprotectRtcp(srtcp: Uint8Array): Buffer | null | undefined {
    const length = srtcp.length;
    const payloadLength = length - RTCP_CLEAR - GCM_TAG_LENGTH - 4;
    if (payloadLength < 0 || length > MAX_RTP_LENGTH + GCM_TAG_LENGTH) return null;
    const trailer = readWord(srtcp, length - 4) >>> 0;
    if (trailer >>> 31 === 0) return undefined;
    const index = trailer & 0x7fffffff;
    const ssrc = readWord(srtcp, 4) >>> 0;
    bytes.set(srtcp.subarray(0, RTCP_CLEAR), PACKET_AT);
    bytes.set(srtcp.subarray(length - 4), PACKET_AT + RTCP_CLEAR);
    bytes.set(srtcp.subarray(RTCP_CLEAR, length - 4), PACKET_AT + RTCP_AAD);
    const made = this.keystream(ssrc, index >>> 16, index & 0xffff, payloadLength, false);
    if (!core.open(this.table, PACKET_AT, RTCP_AAD, payloadLength, KEYSTREAM_AT, TMP_AT))
      return null;
    if (made) this.batches.set(ssrc, made);
    const out = Buffer.allocUnsafe(RTCP_CLEAR + payloadLength);
    memory.copy(out, 0, PACKET_AT, PACKET_AT + RTCP_CLEAR);
    memory.copy(out, RTCP_CLEAR, PACKET_AT + RTCP_AAD, PACKET_AT + RTCP_AAD + payloadLength);
    return out;
  }

  /** Forgets the keystream made ahead for a stream (e.g. its sender went away). */
  forget(ssrc: number): void {
    this.batches.delete(ssrc);
  }

  /**
   * Puts E(K, J0) followed by the keystream for `length` bytes at KEYSTREAM_AT. A batch it
   * had to make is kept when `keep`, else returned for the caller to keep (or not).
   */
  private keystream(
    ssrc: number,
    roc: number,
    seq: number,
    length: number,
    keep = true,
  ): KeystreamBatch | null {
    const blocks = Math.ceil(length / BLOCK) + 1;
    if (blocks > MAX_BLOCKS) throw new RangeError("RTP packet too large");
    const index = roc * 0x10000 + seq;
    let batch = this.batches.get(ssrc);
    const k = batch ? index - batch.first : -1;
    let made: KeystreamBatch | null = null;
    if (!batch || k < 0 || k >= BATCH || blocks > batch.blocks) {
      // Video packets of a stream are about the same size; leave room for a little more.
      const size = Math.min(
        MAX_BLOCKS,
        Math.max(blocks, batch && k >= 0 ? batch.blocks : 0, blocks + 2),
      );
      batch = made = this.makeBatch(ssrc, index, size);
      if (keep) this.batches.set(ssrc, batch);
    }
    const offset = (index - batch.first) * batch.blocks * BLOCK;
    batch.data.copy(memory, KEYSTREAM_AT, offset, offset + blocks * BLOCK);
    return keep ? null : made;
  }

  private makeBatch(ssrc: number, first: number, blocks: number): KeystreamBatch {
    const w = counterWords;
    let o = 0;
    for (let k = 0; k < BATCH; k++) {
      const index = first + k;
      const roc = Math.floor(index / 0x10000) >>> 0;
      const seq = index & 0xffff;
      const iv0 = swap(this.salt0 ^ (ssrc >>> 16));
      const iv1 = swap(this.salt1 ^ (((ssrc & 0xffff) << 16) | (roc >>> 16)));
      const iv2 = swap(this.salt2 ^ (((roc & 0xffff) << 16) | seq));
      for (let b = 0; b < blocks; b++, o += 4) {
        w[o] = iv0;
        w[o + 1] = iv1;
        w[o + 2] = iv2;
        w[o + 3] = swap(b + 1); // J0 has counter 1; the payload starts at 2
      }
    }
    return { first, blocks, data: this.ecb.update(counterBytes.subarray(0, o * 4)) };
  }
}

/** Byte-swaps a 32-bit word (the counter blocks are written through a little-endian view). */
function swap(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

/** Copies the JavaScript table into WebAssembly memory as GCM byte strings. */
function writeTable(ghash: Ghash, target: Uint8Array, at: number): void {
  const words = ghash.tableWords();
  const view = new DataView(target.buffer, target.byteOffset + at, SLOT);
  for (let i = 0; i < words.length; i++) view.setInt32(i * 4, words[i]!, false);
}
