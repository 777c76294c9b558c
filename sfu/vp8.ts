/**
 * Just enough of the VP8 RTP payload format (RFC 7741) to forward without decoding: find
 * key frames, and (for the bot) write a valid payload descriptor. No werift here, so the
 * forwarding path stays allocation-free.
 */

/** Length of the descriptor {@link writeVp8Descriptor} writes: X, I with a 15-bit picture id. */
export const VP8_DESCRIPTOR_LENGTH = 4;

/** True when this packet starts a VP8 key frame (S=1, partition 0, P bit clear). */
export function isVp8KeyFrameStart(payload: Uint8Array): boolean {
  if (payload.length < 1) return false;
  const b0 = payload[0]!;
  const start = (b0 & 0x10) !== 0;
  const partition = b0 & 0x07;
  if (!start || partition !== 0) return false;
  let offset = 1;
  if (b0 & 0x80) {
    if (payload.length < 2) return false;
    const b1 = payload[offset++]!;
    if (b1 & 0x80) {
      if (payload.length <= offset) return false;
      offset += payload[offset]! & 0x80 ? 2 : 1;
    }
    if (b1 & 0x40) offset++;
    if (b1 & 0x30) offset++;
  }
  if (payload.length <= offset) return false;
  return (payload[offset]! & 0x01) === 0;
}

/**
 * Writes a 4-byte descriptor (X=1, I=1, M=1, 15-bit picture id) at `target[0..3]`.
 * `start` marks the first packet of a frame.
 */
export function writeVp8Descriptor(target: Uint8Array, pictureId: number, start: boolean): void {
  target[0] = 0x80 | (start ? 0x10 : 0);
  target[1] = 0x80;
  target[2] = 0x80 | ((pictureId >> 8) & 0x7f);
  target[3] = pictureId & 0xff;
}

/**
 * Writes the 3-byte VP8 payload header of a frame's first packet, plus for a key frame
 * the start code and a 16×16 size, so a real decoder would at least parse it.
 */
export function writeVp8FrameHeader(
  target: Uint8Array,
  offset: number,
  keyFrame: boolean,
  size: number,
): number {
  // size0..2: 19-bit first partition size; bit 0 = P (0 = key frame); show_frame bit 4.
  const first = Math.min(size, 0x7ffff);
  target[offset] = ((first & 0x07) << 5) | 0x10 | (keyFrame ? 0 : 1);
  target[offset + 1] = (first >> 3) & 0xff;
  target[offset + 2] = (first >> 11) & 0xff;
  if (!keyFrame) return offset + 3;
  target[offset + 3] = 0x9d;
  target[offset + 4] = 0x01;
  target[offset + 5] = 0x2a;
  target[offset + 6] = 16;
  target[offset + 7] = 0;
  target[offset + 8] = 16;
  target[offset + 9] = 0;
  return offset + 10;
}

/**
 * Where the fields an SFU rewrites across a layer switch sit in a VP8 payload descriptor
 * (RFC 7741 §4.2): the picture id (7 or 15 bits) and TL0PICIDX. Offsets are -1 when absent.
 */
export interface Vp8Fields {
  pictureIdAt: number;
  /** 15-bit picture id (M bit set) rather than 7-bit. */
  pictureIdLong: boolean;
  tl0PicIdxAt: number;
}

/** Fills `out` from `payload`; returns false when the descriptor is truncated. */
export function readVp8Fields(payload: Uint8Array, out: Vp8Fields): boolean {
  out.pictureIdAt = -1;
  out.pictureIdLong = false;
  out.tl0PicIdxAt = -1;
  if (payload.length < 1) return false;
  if (!(payload[0]! & 0x80)) return true;
  if (payload.length < 2) return false;
  const x = payload[1]!;
  let offset = 2;
  if (x & 0x80) {
    if (payload.length <= offset) return false;
    out.pictureIdAt = offset;
    out.pictureIdLong = (payload[offset]! & 0x80) !== 0;
    offset += out.pictureIdLong ? 2 : 1;
  }
  if (x & 0x40) {
    if (payload.length <= offset) return false;
    out.tl0PicIdxAt = offset;
  }
  return true;
}

export function readPictureId(payload: Uint8Array, fields: Vp8Fields): number {
  const at = fields.pictureIdAt;
  return fields.pictureIdLong
    ? ((payload[at]! & 0x7f) << 8) | payload[at + 1]!
    : payload[at]! & 0x7f;
}

export function writePictureId(payload: Uint8Array, fields: Vp8Fields, pictureId: number): void {
  const at = fields.pictureIdAt;
  if (fields.pictureIdLong) {
    payload[at] = 0x80 | ((pictureId >> 8) & 0x7f);
    payload[at + 1] = pictureId & 0xff;
  } else {
    payload[at] = pictureId & 0x7f;
  }
}
