/**
 * What GET /stats reports: live object counts (to prove nothing leaks after join/leave
 * cycles) and the process's memory. Cheap enough to poll.
 *
 * The counts are kept by the objects themselves (incremented when made, decremented when
 * closed) rather than by walking the rooms, so an object that leaks out of its room still
 * shows up.
 */

export interface SfuStats {
  rooms: number;
  peers: number;
  /** Live werift peer connections (two per participant once publishing). */
  transports: number;
  producers: number;
  consumers: number;
  rtp: { received: number; forwarded: number };
  memory: { rss: number; heapUsed: number; external: number };
  uptimeSeconds: number;
}

/** Live objects, maintained by their constructors and `close()`. */
export const live = { rooms: 0, peers: 0, transports: 0, producers: 0, consumers: 0 };
/** RTP packets received from publishers and forwarded to subscribers since start. */
export const rtp = { received: 0, forwarded: 0 };

export function snapshot(): SfuStats {
  const { rss, heapUsed, external } = process.memoryUsage();
  return { ...live, rtp: { ...rtp }, memory: { rss, heapUsed, external }, uptimeSeconds: Math.round(process.uptime()) };
}
