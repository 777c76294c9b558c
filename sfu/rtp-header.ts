/**
 * The RTP header a consumer writes for every packet it forwards: built once per
 * negotiation (SSRC, payload type, the subscriber's extension ids), then only sequence
 * number, timestamp, marker and abs-send-time change per packet (docs/sfu.md, "The fast
 * forwarding path").
 */
import { type RTCRtpTransceiver, RTP_EXTENSION_URI } from "werift";
import type { MediaKind } from "./protocol";

export interface HeaderTemplate {
  bytes: Uint8Array;
  payloadType: number;
  /** Offset of the 3-byte abs-send-time value, or -1. */
  absSendTimeAt: number;
  /**
   * The retransmission stream (RFC 4588), when the subscriber negotiated RTX: the same
   * header with the RTX SSRC, and its payload type. Same length and extension offsets.
   */
  rtx: { bytes: Uint8Array; payloadType: number; ssrc: number } | undefined;
}

/**
 * Fixed header plus one-byte extensions: `mid` (so the subscriber can demultiplex before it
 * learns the SSRC) and, for video, abs-send-time (its receive-side estimator feeds REMB).
 * Undefined until the transceiver has negotiated a codec.
 */
export function headerTemplate(
  transceiver: RTCRtpTransceiver,
  kind: MediaKind,
): HeaderTemplate | undefined {
  const payloadType = transceiver.sender.codec?.payloadType;
  if (payloadType === undefined) return undefined;
  const ids = new Map(transceiver.headerExtensions.map((e) => [e.uri, e.id]));
  const mid = transceiver.mid;
  const midId = ids.get(RTP_EXTENSION_URI.sdesMid);
  const absId = kind === "video" ? ids.get(RTP_EXTENSION_URI.absSendTime) : undefined;
  const elements: number[] = [];
  if (midId !== undefined && mid)
    elements.push((midId << 4) | (mid.length - 1), ...Buffer.from(mid));
  let absSendTimeAt = -1;
  if (absId !== undefined) {
    absSendTimeAt = 12 + 4 + elements.length + 1;
    elements.push((absId << 4) | 2, 0, 0, 0);
  }
  while (elements.length % 4 !== 0) elements.push(0);
  const bytes = new Uint8Array(12 + (elements.length ? 4 + elements.length : 0));
  bytes[0] = elements.length ? 0x90 : 0x80;
  new DataView(bytes.buffer).setUint32(8, transceiver.sender.ssrc);
  if (elements.length) {
    bytes[12] = 0xbe;
    bytes[13] = 0xde;
    bytes[14] = (elements.length / 4) >> 8;
    bytes[15] = (elements.length / 4) & 0xff;
    bytes.set(elements, 16);
  }
  // werift keeps the negotiated RTX payload type private; it is set from the answer.
  const { rtxPayloadType, rtxSsrc } = transceiver.sender as unknown as {
    rtxPayloadType?: number;
    rtxSsrc: number;
  };
  let rtx: HeaderTemplate["rtx"];
  if (rtxPayloadType !== undefined) {
    const rtxBytes = bytes.slice();
    new DataView(rtxBytes.buffer).setUint32(8, rtxSsrc);
    rtx = { bytes: rtxBytes, payloadType: rtxPayloadType, ssrc: rtxSsrc };
  }
  return { bytes, payloadType, absSendTimeAt, rtx };
}

/**
 * Writes a header from `bytes` (a template's, or its RTX stream's) into `out` with this
 * packet's marker, payload type, sequence number, timestamp and abs-send-time; returns
 * the header's length, where the payload goes.
 */
export function writeHeader(
  out: Uint8Array,
  bytes: Uint8Array,
  payloadType: number,
  marker: boolean,
  seq: number,
  timestamp: number,
  absSendTimeAt: number,
  nowMs: number,
): number {
  // Scalars, not an object: this runs for every packet to every subscriber.
  out.set(bytes, 0);
  out[1] = (marker ? 0x80 : 0) | payloadType;
  out[2] = seq >>> 8;
  out[3] = seq & 0xff;
  out[4] = timestamp >>> 24;
  out[5] = (timestamp >>> 16) & 0xff;
  out[6] = (timestamp >>> 8) & 0xff;
  out[7] = timestamp & 0xff;
  if (absSendTimeAt >= 0) writeAbsSendTime(out, absSendTimeAt, nowMs);
  return bytes.length;
}

/** abs-send-time: 24-bit seconds in 6.18 fixed point; any epoch works (only differences count). */
export function writeAbsSendTime(out: Uint8Array, at: number, nowMs: number): void {
  const value = Math.floor((nowMs * 262.144) % 0x1000000);
  out[at] = value >>> 16;
  out[at + 1] = (value >>> 8) & 0xff;
  out[at + 2] = value & 0xff;
}
