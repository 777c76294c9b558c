/**
 * The RTCP the SFU acts on from a subscriber, read in place from the decrypted compound
 * packet (docs/sfu.md, "The fast forwarding path"; issue 15): reception report blocks of
 * RR and SR (RFC 3550 §6.4), generic NACK (RFC 4585 §6.2.1), PLI (RFC 4585 §6.3.1), FIR
 * (RFC 5104 §4.3.1) and REMB (draft-alvestrand-rmcat-remb-03 §2.2). werift's parser reads
 * each field a bit at a time and makes objects per packet and per report block, for every
 * receiver report of every idle subscriber; this reads only the fields used and allocates
 * nothing but a NACK's list of sequence numbers.
 *
 * A compound packet is taken whole or not at all: when any part of it is malformed or of
 * a kind not read here (transport-wide feedback, XR, APP, other feedback formats),
 * {@link readRtcp} reports nothing and returns false, and the caller leaves the packet to
 * werift, as before.
 */

/** What the SFU takes from a subscriber's RTCP (subscribe-connection.ts). */
export interface RtcpFeedback {
  /** One reception report block: the fraction of our packets lost, in 1/256 (RFC 3550 §6.4.1). */
  loss(fractionLost: number): void;
  /** The subscriber's estimate of its downlink (REMB), in bits per second. */
  remb(bitrate: number): void;
  /** A PLI, or one FIR entry, asking for a key frame of our stream `ssrc`. */
  keyFrameRequest(ssrc: number): void;
  /** A generic NACK: the sequence numbers of our stream `ssrc` the subscriber misses. */
  nack(ssrc: number, lost: number[]): void;
}

// RTCP packet types (RFC 3550 §12.1, RFC 4585 §6.1) and feedback formats (in the count field).
const SR = 200;
const RR = 201;
const SDES = 202;
const BYE = 203;
const RTPFB = 205;
const PSFB = 206;
const NACK_FORMAT = 1;
const PLI_FORMAT = 1;
/** A Full Intra Request's feedback format (RFC 5104 §4.3.1). */
export const FIR_FORMAT = 4;
const AFB_FORMAT = 15;
/** "REMB", the unique identifier of an application-layer feedback message that is one. */
const REMB_ID = 0x52454d42;
/** Bytes before the report blocks: an RR's SSRC; an SR's SSRC and sender info. */
const RR_HEADER = 4;
const SR_HEADER = 24;
/** A reception report block, in bytes. */
const REPORT_BLOCK = 24;
/** Feedback messages: sender SSRC and media source SSRC (RFC 4585 §6.1). */
const FEEDBACK_HEADER = 8;

/**
 * Reports what `packet` (a plaintext compound RTCP packet) holds for the SFU to
 * `feedback`, in order, and returns true; or returns false without reporting anything when
 * a part is malformed or of a kind not read here. Never throws on bad input.
 */
export function readRtcp(packet: Uint8Array, feedback: RtcpFeedback): boolean {
  if (!walk(packet)) return false;
  walk(packet, feedback);
  return true;
}

/**
 * Checks each part of a compound packet (without `feedback`) or reports each (a packet
 * checked before). False at the first part that is malformed or not read here.
 */
function walk(packet: Uint8Array, feedback?: RtcpFeedback): boolean {
  if (packet.length === 0) return false;
  let at = 0;
  while (at < packet.length) {
    if (packet.length - at < 4) return false;
    const first = packet[at]!;
    if (first >> 6 !== 2) return false;
    const end = at + (((packet[at + 2]! << 8) | packet[at + 3]!) + 1) * 4;
    if (end > packet.length) return false;
    let contentEnd = end;
    if (first & 0x20) {
      // Padding (RFC 3550 §6.4.1): only in the last part; its last octet counts it.
      const padding = packet[end - 1]!;
      if (end !== packet.length || padding === 0 || padding > end - at - 4) return false;
      contentEnd = end - padding;
    }
    if (!readPart(packet, packet[at + 1]!, first & 0x1f, at + 4, contentEnd, feedback))
      return false;
    at = end;
  }
  return true;
}

/** One part: its type, count (or feedback format) and body from `body` to `end`. */
function readPart(
  packet: Uint8Array,
  type: number,
  count: number,
  body: number,
  end: number,
  feedback: RtcpFeedback | undefined,
): boolean {
  const size = end - body;
  switch (type) {
    case SR:
    case RR: {
      const blocks = body + (type === SR ? SR_HEADER : RR_HEADER);
      if (blocks + count * REPORT_BLOCK > end) return false;
      if (feedback)
        for (let i = 0; i < count; i++) feedback.loss(packet[blocks + i * REPORT_BLOCK + 4]!);
      return true;
    }
    case SDES:
    case BYE:
      return true; // nothing the SFU uses (werift's routing ignores them too)
    case RTPFB: {
      // Generic NACK: FCI entries of a packet id (PID) and a bitmask of the 16 after it (BLP).
      if (count !== NACK_FORMAT || size <= FEEDBACK_HEADER || (size - FEEDBACK_HEADER) % 4 !== 0)
        return false;
      if (feedback) {
        const lost: number[] = [];
        for (let at = body + FEEDBACK_HEADER; at < end; at += 4) {
          const pid = (packet[at]! << 8) | packet[at + 1]!;
          const blp = (packet[at + 2]! << 8) | packet[at + 3]!;
          lost.push(pid);
          for (let bit = 0; bit < 16; bit++)
            if (blp & (1 << bit)) lost.push((pid + bit + 1) & 0xffff);
        }
        feedback.nack(word(packet, body + 4), lost);
      }
      return true;
    }
    case PSFB:
      if (size < FEEDBACK_HEADER) return false;
      switch (count) {
        case PLI_FORMAT:
          feedback?.keyFrameRequest(word(packet, body + 4));
          return true;
        case FIR_FORMAT: {
          // FCI entries: the SSRC asked for a key frame, a command sequence number, reserved.
          if (size === FEEDBACK_HEADER || (size - FEEDBACK_HEADER) % 8 !== 0) return false;
          if (feedback)
            for (let at = body + FEEDBACK_HEADER; at < end; at += 8)
              feedback.keyFrameRequest(word(packet, at));
          return true;
        }
        case AFB_FORMAT: {
          // REMB: "REMB", the SSRC count, a 6-bit exponent and 18-bit mantissa, the SSRCs.
          if (size < FEEDBACK_HEADER + 8 || word(packet, body + FEEDBACK_HEADER) !== REMB_ID)
            return false;
          if (FEEDBACK_HEADER + 8 + packet[body + 12]! * 4 > size) return false;
          const exponent = packet[body + 13]! >> 2;
          const mantissa =
            ((packet[body + 13]! & 0x03) << 16) | (packet[body + 14]! << 8) | packet[body + 15]!;
          feedback?.remb(mantissa * 2 ** exponent);
          return true;
        }
        default:
          return false;
      }
    default:
      return false;
  }
}

/** The unsigned 32-bit big-endian word at `at`. */
function word(packet: Uint8Array, at: number): number {
  return (
    ((packet[at]! << 24) | (packet[at + 1]! << 16) | (packet[at + 2]! << 8) | packet[at + 3]!) >>> 0
  );
}
