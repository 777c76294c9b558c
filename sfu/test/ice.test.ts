/**
 * ICE as the SFU runs it: lite (RFC 8445 §2.5). It never dials a peer, never resolves a
 * candidate, and learns the peer's address from its checks, so an mDNS candidate (what
 * browsers send by default) costs nothing, and an ICE restart moves media to new
 * credentials without a rejoin.
 */
import { RTCPeerConnection } from "werift";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { peerConfig } from "../media";
import { SignalingClient } from "../signaling-client";
import { eventually, LOOPBACK, startSfu, type TestSfu } from "./harness";

let sfu: TestSfu;
beforeAll(async () => {
  sfu = await startSfu();
});
afterAll(async () => {
  await sfu?.stop();
});

const ufragOf = (sdp: string) => /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];

describe("ICE-lite", () => {
  it("announces ice-lite and answers a candidate without waiting on the network", async () => {
    const alice = await sfu.bot("room-lite", "Alice");
    const bob = await sfu.bot("room-lite", "Bob");
    const answer = await alice.publish({ mic: true, camera: true });
    expect(answer.sdp).toMatch(/^a=ice-lite\r?$/m);
    await bob.publish({ mic: true });
    await bob.waitFor(() => bob.received.size === 2 && bob.totalPackets() > 20, 10_000, "media");
    await alice.waitFor(() => alice.received.size === 1, 10_000, "Alice subscribed");
    expect(bob.remoteSdps.at(-1)).toMatch(/^a=ice-lite\r?$/m);

    // Candidates a browser sends with default privacy settings: mDNS names, v4 and v6.
    // Resolving them (multicast, up to 10 s each) used to run inside the peer's command
    // queue; now each is accepted at once, and commands behind them are not delayed.
    const candidates = [
      "candidate:1 1 udp 2122260223 3f0b2b6c-7d8e-4a43-9d59-2f1f9d3b1a11.local 51234 typ host generation 0",
      "candidate:2 1 udp 2122194687 9a1c0d2e-2b1f-4c6d-8e7a-0b9c8d7e6f5a.local 51235 typ host generation 0",
      "candidate:3 1 tcp 1518280447 3f0b2b6c-7d8e-4a43-9d59-2f1f9d3b1a11.local 9 typ host tcptype active",
      "candidate:4 1 udp 1686052607 203.0.113.7 40000 typ srflx raddr 0.0.0.0 rport 0",
    ];
    const started = performance.now();
    for (const candidate of candidates) {
      await alice.signaling.request("iceCandidate", {
        connection: "publish",
        candidate: { candidate, sdpMid: "0" },
      });
      await alice.signaling.request("iceCandidate", {
        connection: "subscribe",
        candidate: { candidate, sdpMid: "0" },
      });
    }
    await alice.signaling.request("setTrackMuted", {
      trackId: alice.publishedTrackId("mic")!,
      muted: false,
    });
    expect(performance.now() - started).toBeLessThan(1_000);

    // Media still flows, and no error reached either bot.
    const before = bob.totalPackets();
    await bob.waitFor(() => bob.totalPackets() > before + 50, 5_000, "media after the candidates");
    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
    await alice.leave();
    await bob.leave();
  });

  it("restarts ICE on both connections without losing the call", async () => {
    const alice = await sfu.bot("room-restart", "Alice");
    const bob = await sfu.bot("room-restart", "Bob");
    await alice.publish({ mic: true, camera: true });
    await bob.publish({ mic: true });
    await bob.waitFor(
      () => bob.received.size === 2 && bob.totalPackets() > 20,
      10_000,
      "Bob receives",
    );
    await alice.waitFor(
      () => alice.received.size === 1 && alice.totalPackets() > 5,
      10_000,
      "Alice receives",
    );

    const publishUfrag = ufragOf(alice.remoteSdps.find((sdp) => /a=ice-lite/.test(sdp))!);
    const offersBefore = bob.offersAnswered;
    const subscribeUfrag = ufragOf(bob.remoteSdps.at(-1)!);
    await alice.restartIce();
    const afterPublishRestart = bob.totalPackets();
    await bob.waitFor(
      () => bob.totalPackets() > afterPublishRestart + 100,
      10_000,
      "Bob receives after Alice's publish restart",
    );
    await bob.restartIce();
    await bob.waitFor(() => bob.offersAnswered > offersBefore, 5_000, "Bob's restart offer");
    // New credentials on both sides of both connections...
    expect(ufragOf(alice.remoteSdps.at(-1)!)).not.toBe(publishUfrag);
    expect(ufragOf(bob.remoteSdps.at(-1)!)).not.toBe(subscribeUfrag);
    // ...and media keeps flowing both ways, with the same tracks (no rejoin).
    const bobBefore = bob.totalPackets();
    const aliceBefore = alice.totalPackets();
    await bob.waitFor(
      () => bob.totalPackets() > bobBefore + 100,
      10_000,
      "Bob receives after the restart",
    );
    await alice.waitFor(
      () => alice.totalPackets() > aliceBefore + 20,
      10_000,
      "Alice receives after the restart",
    );
    expect(bob.received.size).toBe(2);
    expect([...bob.received.values()].every((t) => !t.ended)).toBe(true);
    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
    await alice.leave();
    await bob.leave();
    await eventually(async () => (await sfu.stats()).peers === 0, 5_000, "peers gone");
  });

  it("drops a peer whose checks never arrive, saying why", async () => {
    const strict = await startSfu({ SFU_CONNECT_TIMEOUT_MS: "1500" });
    try {
      const bot = await strict.bot("room-silent", "Silent");
      // An offer from a connection that then goes away: no check ever reaches the SFU.
      const pc = new RTCPeerConnection(peerConfig(LOOPBACK, "publish"));
      const transceiver = pc.addTransceiver("audio", { direction: "sendonly" });
      await pc.setLocalDescription(await pc.createOffer());
      await bot.signaling.request("publishOffer", {
        sdp: pc.localDescription!.sdp,
        tracks: [{ mid: transceiver.mid!, source: "mic" }],
      });
      await pc.close();
      await bot.waitFor(() => bot.closedReason !== undefined, 5_000, "the SFU to end the session");
      expect(bot.errors.map((e) => e.message).join("\n")).toMatch(
        /publish connection failed: no ICE connectivity check from the peer within 2 s/,
      );
      expect(bot.closedReason).toMatch(/no ICE connectivity check/);
      await eventually(async () => (await strict.stats()).peers === 0, 5_000, "the peer gone");
      await bot.close();
    } finally {
      await strict.stop();
    }
  });
});

describe("resuming a session on a new socket", () => {
  it("keeps the peer, its media and its renegotiation when the client moves to a new socket", async () => {
    const alice = await sfu.bot("room-resume", "Alice");
    const bob = await sfu.bot("room-resume", "Bob");
    await alice.publish({ mic: true, camera: true });
    await bob.waitFor(
      () => bob.received.size === 2 && bob.totalPackets() > 20,
      10_000,
      "Bob receives",
    );
    const bobId = bob.peerId;
    const oldSocket = bob.signaling;

    // As after a network change: a new socket takes the session over; the old one is dropped.
    const state = await bob.resumeSignaling();
    expect(state.self.peerId).toBe(bobId);
    expect(state.participants.map((p) => p.displayName)).toEqual(["Alice"]);
    expect(state.tracks).toHaveLength(2);
    await eventually(() => !oldSocket.socket.connected, 5_000, "the old socket dropped");
    const before = bob.totalPackets();
    await bob.waitFor(() => bob.totalPackets() > before + 50, 5_000, "media after resuming");
    // Nobody saw Bob leave, and a newcomer still reaches him through the new socket.
    expect(alice.participants.has(bobId!)).toBe(true);
    const carol = await sfu.bot("room-resume", "Carol");
    await carol.publish({ mic: true });
    await bob.waitFor(
      () => bob.received.size === 3,
      10_000,
      "Carol's track, offered on the new socket",
    );
    expect(bob.errors).toEqual([]);

    // Someone else cannot take the session, and an ended one cannot be resumed.
    const intruder = new SignalingClient({ url: sfu.url });
    await intruder.connected();
    await expect(
      intruder.request("resume", { peerId: bobId!, token: "not-the-token" }),
    ).rejects.toMatchObject({ code: "unknown_session" });
    intruder.close();
    await Promise.all([alice.leave(), bob.leave(), carol.leave()]);
    await eventually(async () => (await sfu.stats()).peers === 0, 5_000, "peers gone");
  });
});
