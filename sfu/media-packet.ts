/**
 * One RTP packet as a producer received it, decrypted once and shared by every consumer
 * and by the producer's retransmission cache. Consumers never change it: they copy the
 * payload into their own outgoing packet and rewrite header fields there.
 */
import type { Vp8Fields } from "./vp8";

export interface MediaPacket extends Vp8Fields {
  /** The payload (a view into the decrypted datagram; padding removed). */
  payload: Buffer;
  sequenceNumber: number;
  timestamp: number;
  marker: boolean;
  /** First packet of a VP8 key frame. */
  keyFrame: boolean;
  /** performance.now() when it arrived. */
  receivedAt: number;
}

/** How many recent packets per layer a producer keeps for retransmission (about 1.7 s at 300 packets/s). */
export const PACKET_CACHE_SIZE = 512;

/** A ring of recent packets by sequence number, for answering NACKs. */
export class PacketCache {
  private readonly slots: Array<MediaPacket | undefined> = new Array<MediaPacket | undefined>(
    PACKET_CACHE_SIZE,
  );

  add(packet: MediaPacket): void {
    this.slots[packet.sequenceNumber & (PACKET_CACHE_SIZE - 1)] = packet;
  }

  get(sequenceNumber: number): MediaPacket | undefined {
    const packet = this.slots[sequenceNumber & (PACKET_CACHE_SIZE - 1)];
    return packet?.sequenceNumber === sequenceNumber ? packet : undefined;
  }

  clear(): void {
    this.slots.fill(undefined);
  }
}
