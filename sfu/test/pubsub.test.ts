import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, startSfu, type TestSfu } from "./harness";

let sfu: TestSfu;
beforeAll(async () => {
  sfu = await startSfu();
});
afterAll(async () => {
  await sfu?.stop();
});

describe("publish and subscribe", () => {
  it("forwards a publisher's audio and video to a subscriber", async () => {
    const alice = await sfu.bot("room-1", "Alice");
    const bob = await sfu.bot("room-1", "Bob");
    expect(bob.participants.get(alice.peerId!)?.displayName).toBe("Alice");
    await alice.publish({ mic: true, camera: true });
    await bob.waitFor(() => bob.received.size === 2, 10_000, "two tracks");
    await bob.waitFor(
      () => [...bob.received.values()].every((t) => t.packets > 20),
      10_000,
      "packets on both tracks",
    );
    const kinds = [...bob.received.values()].map((t) => t.info?.source).sort();
    expect(kinds).toEqual(["camera", "mic"]);
    for (const track of bob.received.values()) {
      expect(track.bytes).toBeGreaterThan(0);
      expect(track.ssrcs.size).toBe(1);
    }
    // Past each stream's first packets, media skips werift's RTP parse and route.
    const { rtp } = await sfu.stats();
    expect(rtp.routed).toBeGreaterThan(0.8 * rtp.received);
    await alice.leave();
    await bob.leave();
    await eventually(async () => (await sfu.stats()).peers === 0, 5_000, "peers gone");
  });
});
