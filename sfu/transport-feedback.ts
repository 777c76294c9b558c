/**
 * Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-
 * extensions-01) for a publisher's connection: the arrival time of every packet by its
 * transport-wide sequence number, sent back every 50 ms. The browser's send-side
 * estimator (GoogCC) turns it into delay and loss signals and, on a good path, probes
 * its bitrate up within seconds so every simulcast layer flows.
 *
 * Why not werift's own (0.25.2): it keeps one feedback generator per m-line although the
 * sequence numbers are shared by all of them (so each reports the others' packets as
 * lost), only sends after more than ten packets (its timer never starts), and its first
 * delta is measured from a reference time it rounded down to 64 ms. Chromium's estimate
 * then stays at its 300 kbps start. See docs/sfu.md, "Bandwidth".
 */

/** 250 µs, the unit of receive deltas. */
const TICKS_PER_MS = 4;
/** Most packets one feedback message describes (keeps it well under the MTU). */
const MAX_STATUSES = 400;
const RING = 1 << 16;

export class TransportFeedback {
  /** Arrival time in ms (performance.now()) by sequence number & 0xffff; 0 = not (yet) received. */
  private readonly arrivals = new Float64Array(RING);
  /** Unwrapped next sequence number to report, and the highest received. */
  private next = -1;
  private highest = -1;
  private feedbackCount = 0;

  constructor(
    private readonly senderSsrc: number,
    private readonly send: (packet: Buffer) => void,
  ) {}

  /** Records a packet's arrival (`seq` is the 16-bit transport-wide sequence number). */
  record(seq: number, arrivalMs: number): void {
    if (this.highest < 0) {
      this.highest = seq;
      this.next = seq;
    } else {
      // Unwrap against the highest seen; late packets land below it.
      let delta = (seq - (this.highest & 0xffff)) & 0xffff;
      if (delta >= 0x8000) delta -= 0x10000;
      const unwrapped = this.highest + delta;
      if (unwrapped < this.next) return; // already reported as lost; too late to matter
      if (unwrapped - this.next >= RING / 2) {
        // A jump (e.g. a restarted sender): report from here on.
        this.arrivals.fill(0);
        this.next = unwrapped;
      }
      if (unwrapped > this.highest) this.highest = unwrapped;
    }
    this.arrivals[seq & 0xffff] = arrivalMs > 0 ? arrivalMs : Number.MIN_VALUE;
  }

  /**
   * Sends feedback for everything received since the last call, in one or more messages.
   * Returns false when nothing was (the caller need not call again before the next packet).
   */
  flush(mediaSsrc: number): boolean {
    if (this.next < 0 || this.next > this.highest) return false;
    while (this.next <= this.highest) {
      const count = Math.min(this.highest - this.next + 1, MAX_STATUSES);
      const packet = this.build(this.next, count, mediaSsrc);
      this.next += count;
      if (packet) this.send(packet);
    }
    return true;
  }

  /** One feedback message for `count` sequence numbers from `base` (unwrapped). */
  private build(base: number, count: number, mediaSsrc: number): Buffer | undefined {
    const statuses = new Uint8Array(count);
    const deltas: number[] = [];
    let reference = -1;
    let previousTicks = 0;
    for (let i = 0; i < count; i++) {
      const slot = (base + i) & 0xffff;
      const arrival = this.arrivals[slot]!;
      this.arrivals[slot] = 0;
      if (arrival === 0) continue;
      const ticks = Math.round(arrival * TICKS_PER_MS);
      if (reference < 0) {
        // Reference time in 64 ms units; deltas count from it exactly.
        reference = Math.floor(arrival / 64);
        previousTicks = reference * 64 * TICKS_PER_MS;
      }
      let delta = ticks - previousTicks;
      if (delta < -0x8000 || delta > 0x7fff) delta = delta < 0 ? -0x8000 : 0x7fff;
      previousTicks += delta;
      statuses[i] = delta >= 0 && delta <= 0xff ? 1 : 2;
      deltas.push(delta);
    }
    if (reference < 0) return undefined; // nothing received in this range: say nothing yet
    const chunks = Math.ceil(count / 7);
    const deltaBytes = deltas.reduce((sum, d) => sum + (d >= 0 && d <= 0xff ? 1 : 2), 0);
    const unpadded = 20 + chunks * 2 + deltaBytes;
    const length = Math.ceil(unpadded / 4) * 4;
    const out = Buffer.alloc(length);
    // RTPFB (205), FMT 15; the P bit marks padding that the length covers.
    out[0] = 0x80 | (length > unpadded ? 0x20 : 0) | 15;
    out[1] = 205;
    out.writeUInt16BE(length / 4 - 1, 2);
    out.writeUInt32BE(this.senderSsrc >>> 0, 4);
    out.writeUInt32BE(mediaSsrc >>> 0, 8);
    out.writeUInt16BE(base & 0xffff, 12);
    out.writeUInt16BE(count, 14);
    out.writeUIntBE(reference & 0xffffff, 16, 3);
    out[19] = this.feedbackCount;
    this.feedbackCount = (this.feedbackCount + 1) & 0xff;
    let at = 20;
    // Status vector chunks, two bits per packet, seven per chunk.
    for (let c = 0; c < chunks; c++) {
      let chunk = 0xc000;
      for (let k = 0; k < 7; k++) {
        const i = c * 7 + k;
        chunk |= (i < count ? statuses[i]! : 0) << (12 - 2 * k);
      }
      out.writeUInt16BE(chunk, at);
      at += 2;
    }
    for (const delta of deltas) {
      if (delta >= 0 && delta <= 0xff) out[at++] = delta;
      else {
        out.writeInt16BE(delta, at);
        at += 2;
      }
    }
    if (length > unpadded) out[length - 1] = length - unpadded;
    return out;
  }
}

/**
 * Where the data of one-byte header extension `extensionId` (RFC 8285) starts in a
 * plaintext RTP packet, with its length in the low 4 bits (`offset << 4 | length - 1`),
 * or -1 when the packet does not carry it.
 */
export function findExtension(
  packet: Uint8Array,
  headerLength: number,
  extensionId: number,
): number {
  if (!(packet[0]! & 0x10)) return -1;
  const start = 12 + (packet[0]! & 0x0f) * 4;
  if (((packet[start]! << 8) | packet[start + 1]!) !== 0xbede) return -1; // only one-byte extensions
  let at = start + 4;
  while (at < headerLength) {
    const byte = packet[at]!;
    if (byte === 0) {
      at++; // padding
      continue;
    }
    const id = byte >> 4;
    if (id === 15) return -1;
    if (id === extensionId) return ((at + 1) << 4) | (byte & 0x0f);
    at += 2 + (byte & 0x0f);
  }
  return -1;
}

/** The 16-bit transport-wide sequence number in a plaintext RTP packet's header, or -1. */
export function readTransportSequence(
  packet: Uint8Array,
  headerLength: number,
  extensionId: number,
): number {
  const found = findExtension(packet, headerLength, extensionId);
  if (found < 0 || (found & 0x0f) < 1) return -1;
  const at = found >> 4;
  return (packet[at]! << 8) | packet[at + 1]!;
}
