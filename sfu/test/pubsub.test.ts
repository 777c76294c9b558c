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

    // The subscriber's RTCP skips werift's parser too (rtcp-feedback.ts), and still works:
    // its receiver reports are read, its PLI reaches the publisher, its NACK is answered.
    await eventually(async () => (await sfu.stats()).rtp.rtcpRead > 0, 5_000, "RTCP read");
    const [trackId, camera] = [...bob.received].find(([, t]) => t.info?.source === "camera")!;
    const requested = alice.keyFrameRequests;
    const read = (await sfu.stats()).rtp.rtcpRead;
    await bob.sendPli(trackId);
    await alice.waitFor(() => alice.keyFrameRequests > requested, 3_000, "the PLI upstream");
    const newest = camera.lastSequenceNumber!;
    const retransmitted = (await sfu.stats()).rtp.retransmitted;
    const late = camera.late;
    await bob.sendNack(trackId, [(newest - 6) & 0xffff, (newest - 5) & 0xffff]);
    await bob.waitFor(() => camera.late >= late + 2, 3_000, "the retransmissions");
    await bob.sendRemb(2_000_000);
    await eventually(
      async () => (await sfu.stats()).rtp.retransmitted >= retransmitted + 2,
      3_000,
      "retransmissions counted",
    );
    expect((await sfu.stats()).rtp.rtcpRead).toBeGreaterThanOrEqual(read + 3);
    await alice.leave();
    await bob.leave();
    await eventually(async () => (await sfu.stats()).peers === 0, 5_000, "peers gone");
  });

  it("sends a browser's transport-wide feedback while its media flows, and none once it stops", async () => {
    const alice = await sfu.bot("room-2", "Alice", { feedback: "browser" });
    const bob = await sfu.bot("room-2", "Bob", { feedback: "browser" });
    await alice.publish({ mic: true, camera: true });
    await bob.waitFor(() => bob.received.size === 2, 10_000, "two tracks");
    await alice.waitFor(() => alice.transportFeedback >= 10, 5_000, "transport-wide feedback");
    // Bob's REMBs (browser-like, a second apart) and receiver reports take the SFU's reader.
    const read = (await sfu.stats()).rtp.rtcpRead;
    await eventually(async () => (await sfu.stats()).rtp.rtcpRead > read, 3_000, "RTCP read");
    alice.pauseMedia();
    await new Promise((resolve) => setTimeout(resolve, 300)); // the last packets' feedback
    const sent = alice.transportFeedback;
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(alice.transportFeedback).toBe(sent);
    await alice.leave();
    await bob.leave();
    await eventually(async () => (await sfu.stats()).peers === 0, 5_000, "peers gone");
  });
});

describe("with werift's SRTP and RTCP parser (SFU_FAST_SRTP=off)", () => {
  let plain: TestSfu;
  beforeAll(async () => {
    plain = await startSfu({ SFU_FAST_SRTP: "off" });
  });
  afterAll(async () => {
    await plain?.stop();
  });

  it("takes a subscriber's PLI to the publisher and answers its NACK, as the SFU's reader does", async () => {
    const alice = await plain.bot("room-3", "Alice");
    const bob = await plain.bot("room-3", "Bob");
    await alice.publish({ camera: true });
    await bob.waitFor(
      () => [...bob.received.values()].some((t) => t.packets > 20),
      10_000,
      "video packets",
    );
    const [trackId, camera] = [...bob.received][0]!;
    const requested = alice.keyFrameRequests;
    await bob.sendPli(trackId);
    await alice.waitFor(() => alice.keyFrameRequests > requested, 3_000, "the PLI upstream");
    const newest = camera.lastSequenceNumber!;
    const late = camera.late;
    await bob.sendNack(trackId, [(newest - 6) & 0xffff, (newest - 5) & 0xffff]);
    await bob.waitFor(() => camera.late >= late + 2, 3_000, "the retransmissions");
    expect((await plain.stats()).rtp.rtcpRead).toBe(0);
    await alice.leave();
    await bob.leave();
  });
});
