/**
 * Loss recovery on one publisher's stream (a simulcast layer's SSRC): which packets are
 * missing, which to ask for again (NACK), and which did not come back in time — then the
 * producer asks for a key frame at once, instead of leaving every subscriber's decoder
 * stuck on the broken frame until its own timeout (Chromium waits 3 s before it sends a
 * PLI). mediasoup and LiveKit keep such a list per stream too. Replaces werift 0.25.2's
 * NACK generator on publish connections (docs/sfu.md, "NACK and retransmission"): werift's
 * stopped detecting loss for minutes after a gap across the sequence-number wrap, and gave
 * up on a packet silently.
 *
 * Pure: the producer feeds it every packet and polls it on a timer.
 */

export interface LossOptions {
  /** The least time between two NACKs for one packet. */
  nackIntervalMs: number;
  /** NACKs per packet before giving up on it. */
  maxNacks: number;
  /** A packet still missing this long after it was found missing is reported unrecovered. */
  keyFrameAfterMs: number;
  /** More missing at once than this is not worth NACKing: reported unrecovered at once. */
  maxMissing: number;
}

export const UPSTREAM_LOSS: LossOptions = {
  // Each packet is asked for over half a second: several round trips on a real network.
  // (werift asked every 5 ms and gave up after 50 ms, before a retransmission could come.)
  nackIntervalMs: 50,
  maxNacks: 10,
  // A retransmission takes a round trip (and a publisher resends a packet at most once per
  // round trip); two chances on a 150 ms path. Later, the picture has already stalled long.
  keyFrameAfterMs: 350,
  maxMissing: 150,
};

interface Missing {
  since: number;
  nacks: number;
  lastNackAt: number;
  reported: boolean;
}

export interface LossPoll {
  /** Sequence numbers to NACK now. */
  nack: number[];
  /** Sequence numbers not recovered in time (each reported once). */
  unrecovered: number[];
}

/** `a` is older than `b` in 16-bit sequence-number space. */
function older(a: number, b: number): boolean {
  const d = (b - a) & 0xffff;
  return d !== 0 && d < 0x8000;
}

export class UpstreamLoss {
  private highest = -1;
  private readonly missing = new Map<number, Missing>();
  /** Packets that came back after being found missing. */
  recovered = 0;
  /** Packets reported unrecovered. */
  unrecovered = 0;

  constructor(private readonly o: LossOptions = UPSTREAM_LOSS) {}

  /** Whether anything is missing (the producer polls only then). */
  get pending(): boolean {
    return this.missing.size > 0;
  }

  /**
   * A packet arrived. Returns the sequence numbers given up at once (a gap larger than
   * `maxMissing`): the caller asks for a key frame.
   */
  received(seq: number, now: number): number[] {
    if (this.highest < 0) {
      this.highest = seq;
      return [];
    }
    if (older(this.highest, seq)) {
      const gap = ((seq - this.highest) & 0xffff) - 1;
      const first = (this.highest + 1) & 0xffff;
      this.highest = seq;
      if (gap > this.o.maxMissing) {
        this.unrecovered += gap;
        return [first];
      }
      for (let k = 0; k < gap; k++)
        this.missing.set((first + k) & 0xffff, {
          since: now,
          nacks: 0,
          lastNackAt: -Infinity,
          reported: false,
        });
      return [];
    }
    if (this.missing.delete(seq)) this.recovered++;
    return [];
  }

  /** A key frame starting at `seq` arrived: what went missing before it no longer matters. */
  keyFrame(seq: number): void {
    for (const missing of this.missing.keys())
      if (older(missing, seq)) this.missing.delete(missing);
  }

  poll(now: number): LossPoll {
    const result: LossPoll = { nack: [], unrecovered: [] };
    for (const [seq, m] of this.missing) {
      const exhausted = m.nacks >= this.o.maxNacks;
      if (!m.reported && (exhausted || now - m.since >= this.o.keyFrameAfterMs)) {
        m.reported = true;
        this.unrecovered++;
        result.unrecovered.push(seq);
      }
      if (exhausted) {
        this.missing.delete(seq);
        continue;
      }
      if (now - m.lastNackAt >= this.o.nackIntervalMs) {
        m.nacks++;
        m.lastNackAt = now;
        result.nack.push(seq);
      }
    }
    return result;
  }
}
