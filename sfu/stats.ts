/**
 * What GET /stats reports (each media worker's, summed by the main thread: sfu/server.ts): live object counts (to prove nothing leaks after join/leave
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
  rtp: {
    received: number;
    forwarded: number;
    retransmitted: number;
    keyFrameRequests: number;
    throughWerift: number;
    /** Of `received`, the packets taken straight from our SRTP, past werift's RTP parse and route. */
    routed: number;
    /** NACKs sent to publishers, and lost media they did not resend in time (a key frame was asked for). */
    nacksSent: number;
    unrecovered: number;
    /** Subscribers' RTCP packets read by the SFU's own parser, past werift's (rtcp-feedback.ts). */
    rtcpRead: number;
  };
  /**
   * Cumulative histogram of the SFU's own forwarding delay (packet decrypted → sent to one
   * subscriber), {@link DELAY_BUCKET_MS} per bucket, the last bucket open-ended. Clients
   * take differences between two reads.
   */
  forwardDelay: number[];
  /** Per published track: packets and receive rates of each simulcast layer. */
  tracks: TrackStats[];
  /** Per media worker (sfu/workers.ts): whether it runs, its participants and rooms. */
  workers: Array<{ index: number; alive: boolean; peers: number; rooms: number }>;
  memory: { rss: number; heapUsed: number; external: number };
  uptimeSeconds: number;
}

/** Live objects, maintained by their constructors and `close()`. */
export const live = { rooms: 0, peers: 0, transports: 0, producers: 0, consumers: 0 };
/**
 * RTP packets received from publishers, forwarded to subscribers, retransmitted on NACKs,
 * key frames requested upstream, and forwarded through werift's slow path (no GCM / TCP).
 */
export const rtp = rtpCounters();

/** RTP counters at zero (a worker's at start; the sum of the workers' in sfu/server.ts). */
export function rtpCounters(): SfuStats["rtp"] {
  return {
    received: 0,
    forwarded: 0,
    retransmitted: 0,
    keyFrameRequests: 0,
    throughWerift: 0,
    routed: 0,
    nacksSent: 0,
    unrecovered: 0,
    rtcpRead: 0,
  };
}
export const DELAY_BUCKET_MS = 0.05;
/** See {@link SfuStats.forwardDelay}: 50 µs buckets up to 50 ms. */
export const forwardDelay = new Uint32Array(1000);

export function recordForwardDelay(ms: number): void {
  const bucket = Math.floor(ms / DELAY_BUCKET_MS);
  forwardDelay[
    bucket < forwardDelay.length ? (bucket > 0 ? bucket : 0) : forwardDelay.length - 1
  ]!++;
}

/** Live producers, for per-track stats. */
export const producers = new Set<Producer>();

export function snapshot(): SfuStats {
  const { rss, heapUsed, external } = process.memoryUsage();
  const tracks = [...producers].map((p) => ({
    trackId: p.id,
    peerId: p.peerId,
    source: p.source,
    layers: p.layerStats(),
  }));
  return {
    ...live,
    rtp: { ...rtp },
    forwardDelay: [...forwardDelay],
    tracks,
    workers: [],
    memory: { rss, heapUsed, external },
    uptimeSeconds: Math.round(process.uptime()),
  };
}
