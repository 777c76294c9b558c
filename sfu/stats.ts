/**
 * What GET /stats reports: live object counts (to prove nothing leaks after join/leave
 * cycles) and the process's memory. Cheap enough to poll.
 *
 * The counts are kept by the objects themselves (incremented when made, decremented when
 * closed) rather than by walking the rooms, so an object that leaks out of its room still
 * shows up.
 */

import type { LayerStats, Producer } from "./producer";

/** One published track's receive side, per layer (rates over the last second). */
export interface TrackStats {
  trackId: string;
  peerId: string;
  source: string;
  layers: Array<Omit<LayerStats, "layer"> & { layer: string | null }>;
}

export interface SfuStats {
  rooms: number;
  peers: number;
  /** Live werift peer connections (two per participant once publishing). */
  transports: number;
  producers: number;
  consumers: number;
  rtp: { received: number; forwarded: number; retransmitted: number; keyFrameRequests: number; throughWerift: number };
  /** Per published track: packets and receive rates of each simulcast layer. */
  tracks: TrackStats[];
  memory: { rss: number; heapUsed: number; external: number };
  uptimeSeconds: number;
}

/** Live objects, maintained by their constructors and `close()`. */
export const live = { rooms: 0, peers: 0, transports: 0, producers: 0, consumers: 0 };
/**
 * RTP packets received from publishers, forwarded to subscribers, retransmitted on NACKs,
 * key frames requested upstream, and forwarded through werift's slow path (no GCM / TCP).
 */
export const rtp = { received: 0, forwarded: 0, retransmitted: 0, keyFrameRequests: 0, throughWerift: 0 };
/** Live producers, for per-track stats. */
export const producers = new Set<Producer>();

export function snapshot(): SfuStats {
  const { rss, heapUsed, external } = process.memoryUsage();
  const tracks = [...producers].map((p) => ({ trackId: p.id, peerId: p.peerId, source: p.source, layers: p.layerStats() }));
  return { ...live, rtp: { ...rtp }, tracks, memory: { rss, heapUsed, external }, uptimeSeconds: Math.round(process.uptime()) };
}
