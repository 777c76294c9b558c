/**
 * Upstream NACKs per simulcast layer, paced (werift-patches.ts: nackPerStream): each layer's
 * numbers go to that layer's own generator, and a generator sends at most one NACK per
 * interval however often werift's 5 ms loop calls it.
 */
import type { RTCPeerConnection } from "werift";
import { afterEach, describe, expect, it, vi } from "vitest";
import { nackPerStream } from "../werift-patches";

/** Stands in for werift's NackHandler: records packets and counts what it would send. */
class FakeGenerator {
  static made: FakeGenerator[] = [];
  packets: number[] = [];
  sent = 0;
  lostSeqNumbers = [1];
  mediaSourceSsrc: number | undefined = 1234;
  constructor(readonly receiver?: unknown) {
    FakeGenerator.made.push(this);
  }
  addPacket(packet: { header: { ssrc: number; sequenceNumber?: number } }) {
    this.packets.push(packet.header.ssrc);
  }
  close() {}
  sendNack = () => {
    this.sent++;
    return Promise.resolve();
  };
}

afterEach(() => {
  vi.useRealTimers();
  FakeGenerator.made = [];
});

describe("nackPerStream", () => {
  it("gives every SSRC its own generator and paces each", async () => {
    vi.useFakeTimers();
    const first = new FakeGenerator();
    const receiver = { nack: first as unknown };
    const pc = { getTransceivers: () => [{ receiver }] } as unknown as RTCPeerConnection;
    nackPerStream(pc, 50);
    const proxy = receiver.nack as FakeGenerator;
    for (const ssrc of [11, 22, 11, 33, 22]) proxy.addPacket({ header: { ssrc } });
    const [a, b, c] = FakeGenerator.made;
    expect(a!.packets).toEqual([11, 11]);
    expect(b!.packets).toEqual([22, 22]);
    expect(c!.packets).toEqual([33]);

    // werift's loop calls every 5 ms: one NACK per 50 ms gets out.
    for (let t = 0; t < 200; t += 5) {
      await a!.sendNack();
      vi.advanceTimersByTime(5);
    }
    expect(a!.sent).toBe(4);
    // Nothing lost, nothing sent, however often it is called.
    b!.lostSeqNumbers = [];
    for (let i = 0; i < 10; i++) await b!.sendNack();
    expect(b!.sent).toBe(0);
  });
});
