import { RTCPeerConnection, SessionDescription } from "werift";
import { afterEach, describe, expect, it } from "vitest";
import { peerConfig } from "../media";
import { SIMULCAST_LAYERS } from "../protocol";
import {
  bundleMids,
  describeMedia,
  endMLine,
  normalizeRemote,
  offerForPeers,
  splitSdp,
} from "../sdp";
import { SignalingClient } from "../signaling-client";
import { LOOPBACK, startSfu } from "./harness";

const sdp = (...lines: string[]) => lines.map((line) => `${line}\r\n`).join("");

/** A werift re-offer after one track was removed (trimmed): passive, and a stopped m-line without rtcp-mux. */
const WERIFT_REOFFER = sdp(
  "v=0",
  "o=- 11756060 0 IN IP4 0.0.0.0",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0 1 4",
  "a=msid-semantic:WMS *",
  "m=audio 9 UDP/TLS/RTP/SAVPF 96",
  "c=IN IP4 0.0.0.0",
  "a=candidate:626da4e5 1 udp 2116026367 127.0.0.1 40001 typ host",
  "a=end-of-candidates",
  "a=ice-ufrag:387a",
  "a=ice-pwd:d6ce4ae033f6d3c0f14833",
  "a=fingerprint:sha-256 1F:89:90:09",
  "a=setup:passive",
  "a=sendonly",
  "a=mid:0",
  "a=rtcp:9 IN IP4 0.0.0.0",
  "a=rtcp-mux",
  "a=rtpmap:96 opus/48000/2",
  "m=video 9 UDP/TLS/RTP/SAVPF 97",
  "c=IN IP4 0.0.0.0",
  "a=ice-ufrag:387a",
  "a=ice-pwd:d6ce4ae033f6d3c0f14833",
  "a=fingerprint:sha-256 1F:89:90:09",
  "a=setup:passive",
  "a=sendonly",
  "a=mid:1",
  "a=rtcp:9 IN IP4 0.0.0.0",
  "a=rtcp-mux",
  "a=rtpmap:97 VP8/90000",
  "m=video 0 UDP/TLS/RTP/SAVPF 97",
  "c=IN IP4 0.0.0.0",
  "a=candidate:626da4e5 1 udp 2116026367 127.0.0.1 40001 typ host",
  "a=ice-ufrag:387a",
  "a=ice-pwd:d6ce4ae033f6d3c0f14833",
  "a=fingerprint:sha-256 1F:89:90:09",
  "a=setup:passive",
  "a=inactive",
  "a=mid:4",
  "a=rtpmap:97 VP8/90000",
);

/** A Chromium publish offer (trimmed): microphone, simulcast camera. */
const CHROMIUM_OFFER = sdp(
  "v=0",
  "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
  "s=-",
  "t=0 0",
  "a=group:BUNDLE 0 1",
  "a=extmap-allow-mixed",
  "a=msid-semantic: WMS stream",
  "m=audio 9 UDP/TLS/RTP/SAVPF 111",
  "c=IN IP4 0.0.0.0",
  "a=ice-ufrag:abcd",
  "a=ice-pwd:0123456789abcdef012345",
  "a=setup:actpass",
  "a=mid:0",
  "a=sendonly",
  "a=rtcp-mux",
  "a=rtpmap:111 opus/48000/2",
  "m=video 9 UDP/TLS/RTP/SAVPF 96",
  "c=IN IP4 0.0.0.0",
  "a=ice-ufrag:abcd",
  "a=ice-pwd:0123456789abcdef012345",
  "a=setup:actpass",
  "a=mid:1",
  "a=sendonly",
  "a=rtcp-mux",
  "a=rtpmap:96 VP8/90000",
  "a=rid:low send",
  "a=rid:medium send",
  "a=rid:high send",
  "a=simulcast:send low;medium;high",
);

describe("offerForPeers", () => {
  const out = offerForPeers(WERIFT_REOFFER);

  it("offers actpass in every section, whatever role werift negotiated", () => {
    expect(WERIFT_REOFFER).toContain("a=setup:passive");
    expect(out).not.toContain("a=setup:passive");
    expect(describeMedia(out).map((m) => m.setup)).toEqual(["actpass", "actpass", "actpass"]);
  });

  it("keeps a stopped m-line's mid and rtcp-mux, takes it out of BUNDLE and strips its candidates", () => {
    const stopped = describeMedia(out)[2]!;
    expect(stopped).toMatchObject({ port: 0, mid: "4", direction: "inactive", rtcpMux: true });
    expect(bundleMids(out)).toEqual(["0", "1"]);
    expect(splitSdp(out).media[2]!.filter((line) => line.startsWith("a=candidate"))).toEqual([]);
    // Live sections keep everything, candidates included.
    expect(splitSdp(out).media[0]).toEqual(
      splitSdp(WERIFT_REOFFER).media[0]!.map((l) => l.replace("passive", "actpass")),
    );
  });

  it("moves a=ice-lite from the m-sections to the session", () => {
    const lite = offerForPeers(
      WERIFT_REOFFER.replace(/a=setup:passive\r\n/g, "a=ice-lite\r\na=setup:passive\r\n"),
    );
    const { session, media } = splitSdp(lite);
    expect(session.filter((line) => line === "a=ice-lite")).toHaveLength(1);
    expect(media.flat()).not.toContain("a=ice-lite");
    expect(splitSdp(out).session).not.toContain("a=ice-lite");
  });

  it("drops a BUNDLE group left empty, writes CRLF, and is idempotent", () => {
    const allStopped = WERIFT_REOFFER.replace("m=audio 9 ", "m=audio 0 ").replace(
      "m=video 9 ",
      "m=video 0 ",
    );
    const result = offerForPeers(allStopped);
    expect(result).not.toContain("a=group:BUNDLE");
    expect(describeMedia(result).every((m) => m.rtcpMux && m.direction === "inactive")).toBe(true);
    expect(out.endsWith("\r\n")).toBe(true);
    expect(out.replace(/\r\n/g, "")).not.toMatch(/[\r\n]/);
    expect(offerForPeers(out)).toBe(out);
  });
});

describe("describeMedia", () => {
  it("reads a browser's publish offer: kinds, mids, directions and simulcast rids", () => {
    expect(describeMedia(CHROMIUM_OFFER)).toEqual([
      {
        kind: "audio",
        port: 9,
        mid: "0",
        direction: "sendonly",
        sendRids: [],
        rtcpMux: true,
        setup: "actpass",
      },
      {
        kind: "video",
        port: 9,
        mid: "1",
        direction: "sendonly",
        sendRids: ["low", "medium", "high"],
        rtcpMux: true,
        setup: "actpass",
      },
    ]);
  });

  it("reads bare-LF and mixed line ends the same as CRLF", () => {
    const expected = describeMedia(CHROMIUM_OFFER);
    expect(describeMedia(CHROMIUM_OFFER.replace(/\r\n/g, "\n"))).toEqual(expected);
    let n = 0;
    const mixed = CHROMIUM_OFFER.replace(/\r\n/g, () => (n++ % 2 ? "\n" : "\r\n"));
    expect(describeMedia(mixed)).toEqual(expected);
  });

  it("takes the session's direction when a section has none, else sendrecv", () => {
    const noDirection = CHROMIUM_OFFER.replace(/a=sendonly\r\n/g, "");
    expect(describeMedia(noDirection).map((m) => m.direction)).toEqual(["sendrecv", "sendrecv"]);
    const sessionLevel = noDirection.replace("a=extmap-allow-mixed", "a=recvonly");
    expect(describeMedia(sessionLevel).map((m) => m.direction)).toEqual(["recvonly", "recvonly"]);
  });

  it("reads rids with restrictions, ignores receive rids, and flags a malformed m-line", () => {
    const restricted = CHROMIUM_OFFER.replace(
      "a=rid:high send",
      "a=rid:high send max-width=1280;max-height=720",
    ).replace("a=rid:low send", "a=rid:low send\r\na=rid:extra recv");
    expect(describeMedia(restricted)[1]!.sendRids).toEqual(["low", "medium", "high"]);
    expect(describeMedia(CHROMIUM_OFFER.replace("m=audio 9 ", "m=audio x "))[0]!.port).toBeNaN();
    expect(describeMedia("v=0\r\nnot an sdp\r\n")).toEqual([]);
  });
});

describe("normalizeRemote", () => {
  it("gives werift CRLF lines where a mix of line ends made it merge attributes", () => {
    let n = 0;
    const mixed = CHROMIUM_OFFER.replace(/\r\n/g, () => (n++ % 3 ? "\r\n" : "\n"));
    const mids = (text: string) => SessionDescription.parse(text).media.map((m) => m.rtp.muxId);
    expect(mids(mixed)).not.toEqual(["0", "1"]);
    expect(mids(normalizeRemote(mixed))).toEqual(["0", "1"]);
  });

  it("strips rid restrictions werift would read as part of the direction", () => {
    const restricted = CHROMIUM_OFFER.replace(
      "a=rid:high send",
      "a=rid:high send max-width=1280;max-height=720",
    );
    const sendRids = (text: string) =>
      SessionDescription.parse(text)
        .media[1]!.simulcastParameters.filter((p) => p.direction === "send")
        .map((p) => p.rid);
    expect(sendRids(restricted)).toEqual(["low", "medium"]);
    expect(sendRids(normalizeRemote(restricted))).toEqual(["low", "medium", "high"]);
  });
});

describe("werift's renegotiation through offerForPeers", () => {
  const pcs: RTCPeerConnection[] = [];
  afterEach(async () => {
    await Promise.all(pcs.splice(0).map((pc) => pc.close()));
  });

  it("stops, then reuses a stopped m-line for a new track, and a werift answerer keeps its role", async () => {
    const sfu = new RTCPeerConnection(peerConfig(LOOPBACK, "subscribe"));
    const client = new RTCPeerConnection(peerConfig(LOOPBACK, "subscribe"));
    pcs.push(sfu, client);
    const negotiate = async () => {
      await sfu.setLocalDescription(await sfu.createOffer());
      const offer = offerForPeers(sfu.localDescription!.sdp);
      await client.setRemoteDescription({ type: "offer", sdp: offer });
      await client.setLocalDescription(await client.createAnswer());
      await sfu.setRemoteDescription({ type: "answer", sdp: client.localDescription!.sdp });
      return { offer, answer: client.localDescription!.sdp };
    };
    sfu.addTransceiver("audio", { direction: "sendonly" });
    const video = sfu.addTransceiver("video", { direction: "sendonly" });
    const first = await negotiate();
    expect(describeMedia(first.answer).map((m) => m.setup)).toEqual(["active", "active"]);

    video.stop();
    const second = await negotiate();
    // werift itself would have offered passive here.
    expect(sfu.localDescription!.sdp).toContain("a=setup:passive");
    expect(describeMedia(second.offer)).toMatchObject([
      { port: 9, mid: "0", setup: "actpass" },
      { port: 0, mid: "1", setup: "actpass", rtcpMux: true, direction: "inactive" },
    ]);
    expect(bundleMids(second.offer)).toEqual(["0"]);
    expect(describeMedia(second.answer)[0]!.setup).toBe("active");

    sfu.addTransceiver("video", { direction: "sendonly" });
    const third = await negotiate();
    // JSEP §5.2.2: the stopped section is recycled with a new mid, not appended.
    expect(describeMedia(third.offer)).toMatchObject([
      { port: 9, mid: "0" },
      { port: 9, mid: "2", kind: "video", direction: "sendonly" },
    ]);
    expect(bundleMids(third.offer)).toEqual(["0", "2"]);
  });

  it("ends the BUNDLE tag's m-line as inactive, any other as stopped", async () => {
    const sfu = new RTCPeerConnection(peerConfig(LOOPBACK, "subscribe"));
    const client = new RTCPeerConnection(peerConfig(LOOPBACK, "subscribe"));
    pcs.push(sfu, client);
    const mic = sfu.addTransceiver("audio", { direction: "sendonly" });
    const camera = sfu.addTransceiver("video", { direction: "sendonly" });
    // Never negotiated: nothing tags a group yet, so it just stops.
    const unsent = sfu.addTransceiver("video", { direction: "sendonly" });
    endMLine(sfu, unsent);
    expect(unsent.stopping).toBe(true);
    await sfu.setLocalDescription(await sfu.createOffer());
    await client.setRemoteDescription({
      type: "offer",
      sdp: offerForPeers(sfu.localDescription!.sdp),
    });
    await client.setLocalDescription(await client.createAnswer());
    await sfu.setRemoteDescription({ type: "answer", sdp: client.localDescription!.sdp });
    expect(bundleMids(sfu.localDescription!.sdp)[0]).toBe(mic.mid);
    endMLine(sfu, mic);
    endMLine(sfu, camera);
    expect([mic.stopping, mic.direction]).toEqual([false, "inactive"]);
    expect(camera.stopping).toBe(true);
    await sfu.setLocalDescription(await sfu.createOffer());
    const offer = offerForPeers(sfu.localDescription!.sdp);
    expect(describeMedia(offer)).toMatchObject([
      { mid: "0", port: 9, direction: "inactive" },
      { mid: "1", port: 0, direction: "inactive" },
    ]);
    expect(bundleMids(offer)).toEqual(["0"]);
  });
});

describe("the SFU reading a publish offer", () => {
  it(
    "takes mixed line ends and rid restrictions, and announces every layer",
    { timeout: 30_000 },
    async () => {
      const sfu = await startSfu();
      const roomId = "sdp-lenient";
      const publisher = new SignalingClient({ url: sfu.url });
      const watcher = new SignalingClient({ url: sfu.url });
      const pc = new RTCPeerConnection(peerConfig(LOOPBACK, "publish"));
      try {
        await Promise.all([publisher.connected(), watcher.connected()]);
        await publisher.request("join", { token: await sfu.token({ roomId }), roomId });
        const camera = pc.addTransceiver("video", {
          direction: "sendonly",
          simulcast: SIMULCAST_LAYERS.map((rid) => ({ rid, direction: "send" as const })),
        });
        await pc.setLocalDescription(await pc.createOffer());
        let n = 0;
        const sdp = pc
          .localDescription!.sdp.replace(
            "a=rid:high send",
            "a=rid:high send max-width=1280;max-height=720",
          )
          .replace(/\r\n/g, () => (n++ % 2 ? "\n" : "\r\n"));
        const answer = await publisher.request("publishOffer", {
          sdp,
          tracks: [{ mid: camera.mid!, source: "camera" }],
        });
        await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
        const joined = await watcher.request("join", {
          token: await sfu.token({ roomId }),
          roomId,
        });
        expect(joined.tracks.map((t) => [t.source, t.layers])).toEqual([
          ["camera", ["low", "medium", "high"]],
        ]);
      } finally {
        publisher.close();
        watcher.close();
        await pc.close();
        await sfu.stop();
      }
    },
  );
});
