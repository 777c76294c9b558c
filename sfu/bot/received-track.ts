/**
 * What a bot records of each track it receives: counts, and the continuity a subscriber
 * relies on across the SFU's layer switches (sequence numbers, timestamps, VP8 picture ids).
 */
import type { RtpPacket } from "werift";
import type { SimulcastLayer, TrackInfo } from "../protocol";
import { isVp8KeyFrameStart, readPictureId, readVp8Fields, type Vp8Fields } from "../vp8";

/** What the bot knows of a track it receives. */
export interface ReceivedTrack {
  info?: TrackInfo;
  mid: string;
  packets: number;
  bytes: number;
  firstPacketAt?: number;
  lastSequenceNumber?: number;
  /** Sequence number gaps seen (loss or a switch that broke continuity). */
  gaps: number;
  /** Packets older than the newest seen (retransmissions, reordering). */
  late: number;
  lastTimestamp?: number;
  /** RTP timestamps that went backwards between consecutive packets. */
  timestampRegressions: number;
  /** VP8 picture ids of consecutive frames that did not follow each other. */
  pictureIdJumps: number;
  lastPictureId?: number;
  /** VP8 key frames received. */
  keyFrames: number;
  /** Distinct SSRCs seen: more than one means the SFU changed SSRC mid-track. */
  ssrcs: Set<number>;
  layer: SimulcastLayer | null;
  ended: boolean;
}

export function newReceivedTrack(
  mid: string,
  info: TrackInfo | undefined,
  layer: SimulcastLayer | null,
): ReceivedTrack {
  return {
    info,
    mid,
    packets: 0,
    bytes: 0,
    gaps: 0,
    late: 0,
    timestampRegressions: 0,
    pictureIdJumps: 0,
    keyFrames: 0,
    ssrcs: new Set(),
    layer,
    ended: false,
  };
}

export function countPacket(track: ReceivedTrack, packet: RtpPacket): void {
  track.packets++;
  track.bytes += packet.payload.length;
  track.firstPacketAt ??= Date.now();
  track.ssrcs.add(packet.header.ssrc);
  const seq = packet.header.sequenceNumber;
  const last = track.lastSequenceNumber;
  if (last !== undefined && ((seq - last) & 0xffff) >= 0x8000) {
    track.late++;
  } else {
    if (last !== undefined && seq !== ((last + 1) & 0xffff)) track.gaps++;
    track.lastSequenceNumber = seq;
    const timestamp = packet.header.timestamp;
    if (track.lastTimestamp !== undefined && (timestamp - track.lastTimestamp) >>> 0 >= 0x80000000)
      track.timestampRegressions++;
    track.lastTimestamp = timestamp;
    if (track.info?.kind === "video") checkPictureId(track, packet.payload);
  }
}

/** Frames must carry consecutive picture ids, across layer switches too. */
function checkPictureId(track: ReceivedTrack, payload: Buffer): void {
  if (payload.length < 1 || !(payload[0]! & 0x10) || (payload[0]! & 0x07) !== 0) return; // not a frame's first packet
  if (isVp8KeyFrameStart(payload)) track.keyFrames++;
  const fields: Vp8Fields = { pictureIdAt: -1, pictureIdLong: false, tl0PicIdxAt: -1 };
  if (!readVp8Fields(payload, fields) || fields.pictureIdAt < 0) return;
  const pictureId = readPictureId(payload, fields);
  const modulo = fields.pictureIdLong ? 0x8000 : 0x80;
  if (track.lastPictureId !== undefined && pictureId !== (track.lastPictureId + 1) % modulo)
    track.pictureIdJumps++;
  track.lastPictureId = pictureId;
}
