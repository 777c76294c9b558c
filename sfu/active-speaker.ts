/**
 * Picks the participant speaking loudest from the audio levels (RFC 6464, -dBov: 0 is
 * loudest, 127 silence) their microphones put in every RTP packet. A speaker must lead
 * for one whole interval to take over, so the highlight does not flicker. Decisions run on
 * the worker's shared tick (ticker.ts) only while levels arrive: a room with no audio
 * flowing wakes nobody (issue 15, idle cost).
 */
import { every } from "./ticker";
import { TypedEmitter } from "./typed-emitter";

const INTERVAL_MS = 300;
/** Averages above this many -dBov count as silence. */
const SPEECH_THRESHOLD = 60;

export class ActiveSpeaker extends TypedEmitter<{ changed: [string | null] }> {
  private readonly sums = new Map<string, { total: number; count: number }>();
  private current: string | null = null;
  /** Leaves the shared tick; set while levels arrive. */
  private stopTick: (() => void) | undefined;

  report(peerId: string, level: number): void {
    this.stopTick ??= every(INTERVAL_MS, () => this.decide());
    const entry = this.sums.get(peerId);
    if (entry) {
      entry.total += level;
      entry.count++;
    } else {
      this.sums.set(peerId, { total: level, count: 1 });
    }
  }

  /** Forget a participant who left or stopped their mic. */
  remove(peerId: string): void {
    this.sums.delete(peerId);
    if (this.current === peerId) this.set(null);
  }

  close(): void {
    this.stopTick?.();
    this.stopTick = undefined;
    this.removeAllListeners();
  }

  private decide(): void {
    if (this.sums.size === 0) {
      // No level for a whole interval: no audio is flowing. Back on the tick with the next.
      this.stopTick?.();
      this.stopTick = undefined;
      return;
    }
    let loudest: string | null = null;
    let best = SPEECH_THRESHOLD;
    for (const [peerId, { total, count }] of this.sums) {
      const average = total / count;
      if (average < best) {
        best = average;
        loudest = peerId;
      }
    }
    this.sums.clear();
    // Silence keeps the last speaker highlighted, as meeting apps do.
    if (loudest !== null && loudest !== this.current) this.set(loudest);
  }

  private set(peerId: string | null): void {
    this.current = peerId;
    this.emit("changed", peerId);
  }
}
