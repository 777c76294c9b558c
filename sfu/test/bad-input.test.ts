import { createSocket } from "node:dgram";
import { connect } from "node:net";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandError } from "../signaling-client";
import { startSfu, type TestSfu } from "./harness";

let sfu: TestSfu;
beforeAll(async () => {
  // ICE-TCP on, so there are TCP media ports to attack too.
  sfu = await startSfu({ SFU_ICE_TCP: "true" });
});
afterAll(async () => {
  await sfu?.stop();
});

const code = (p: Promise<unknown>) =>
  p.then(
    () => "ok",
    (err: unknown) => (err instanceof CommandError ? err.code : String(err)),
  );

/** Media ports the SFU advertised in an SDP. */
function candidatePorts(sdp: string, transport: "udp" | "tcp"): number[] {
  const ports = new Set<number>();
  for (const match of sdp.matchAll(
    /a=candidate:\S+ \d+ (udp|tcp) \d+ 127\.0\.0\.1 (\d+) typ host/gi,
  )) {
    if (match[1]!.toLowerCase() === transport) ports.add(Number(match[2]));
  }
  return [...ports];
}

describe("bad input", () => {
  it("answers malformed commands with error acks and keeps the session", async () => {
    const bot = await sfu.bot("room-bad", "Fuzzer");
    const s = bot.signaling;
    const raw = (event: string, payload: unknown) =>
      s.socket.timeout(5_000).emitWithAck(event as "leave", payload as never) as Promise<unknown>;
    expect(await raw("noSuchCommand", {})).toMatchObject({
      ok: false,
      error: { code: "unknown_command" },
    });
    expect(await raw("publishOffer", { sdp: 42 })).toMatchObject({
      ok: false,
      error: { code: "bad_request" },
    });
    expect(await raw("setTrackMuted", "not an object")).toMatchObject({
      ok: false,
      error: { code: "bad_request" },
    });
    expect(
      await code(
        s.request("publishOffer", {
          sdp: "v=0\r\nthis is not sdp",
          tracks: [{ mid: "0", source: "mic" }],
        }),
      ),
    ).toBe("bad_sdp");
    expect(
      await code(s.request("publishOffer", { sdp: "v=0\r\n" + "a=x\r\n".repeat(5), tracks: [] })),
    ).toBe("bad_sdp");
    expect(await code(s.request("subscribeAnswer", { revision: 7, sdp: "v=0\r\ngarbage" }))).toBe(
      "stale_answer",
    );
    expect(await code(s.request("setTrackMuted", { trackId: "nope", muted: true }))).toBe(
      "unknown_track",
    );
    expect(await code(s.request("setPreferredLayer", { trackId: "nope", layer: "high" }))).toBe(
      "unknown_track",
    );
    expect(await code(s.request("setTileSize", { trackId: "nope", width: 10, height: 10 }))).toBe(
      "unknown_track",
    );
    expect(
      await code(
        s.request("iceCandidate", {
          connection: "subscribe",
          candidate: { candidate: "candidate:garbage" },
        }),
      ),
    ).toBe("bad_candidate");
    expect(
      await code(
        s.request("iceCandidate", {
          connection: "publish",
          candidate: { candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host" },
        }),
      ),
    ).toBe("bad_candidate");
    expect(await code(s.request("join", { token: "x", roomId: "room-bad" }))).toBe(
      "already_joined",
    );

    // After all that, the same session still publishes, with a declared-track mismatch refused first.
    const other = await sfu.bot("room-bad", "Listener");
    await expect(bot.publish({ mic: true })).resolves.toBeDefined();
    await other.waitFor(() => other.totalPackets() > 10, 10_000, "media after bad input");
    expect(other.errors).toEqual([]);
    await bot.leave();
    await other.leave();
  });

  it("keeps calls flowing while random bytes hit its UDP and TCP ports", async () => {
    const pub = await sfu.bot("room-noise", "Pub");
    const result = await pub.publish({ mic: true, camera: true });
    const sub = await sfu.bot("room-noise", "Sub");
    await sub.waitFor(() => sub.totalPackets() > 50, 10_000, "media");
    const sdps = [result.sdp, ...sub.remoteSdps];
    const udpPorts = [...new Set(sdps.flatMap((sdp) => candidatePorts(sdp, "udp")))];
    const tcpPorts = [...new Set(sdps.flatMap((sdp) => candidatePorts(sdp, "tcp")))];
    expect(udpPorts.length).toBeGreaterThan(0);
    expect(tcpPorts.length).toBeGreaterThan(0);

    const udp = createSocket("udp4");
    // Random bytes, plus bytes that look like STUN (0-3), DTLS (20-63) and RTP/RTCP (128-191).
    const firstBytes = [0, 1, 22, 23, 0x80, 0x81, 0xc8, 0x90];
    for (let i = 0; i < 1500; i++) {
      const packet = randomBytes(1 + Math.floor(Math.random() * 1200));
      if (i % 2 === 0) packet[0] = firstBytes[i % firstBytes.length]!;
      udp.send(packet, udpPorts[i % udpPorts.length]!, "127.0.0.1");
      if (i % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // Well-formed DTLS records of the kinds werift 0.25.2 treats as fatal: a plaintext
    // alert and an unknown content type. Each used to end the call (sfu/werift-patches.ts).
    const record = (type: number, epoch: number, body: Buffer) => {
      const header = Buffer.alloc(13);
      header[0] = type;
      header.writeUInt16BE(0xfefd, 1);
      header.writeUInt16BE(epoch, 3);
      header.writeUInt16BE(body.length, 11);
      return Buffer.concat([header, body]);
    };
    for (const port of udpPorts) {
      for (const datagram of [
        record(21, 0, Buffer.from([2, 40])),
        record(21, 1, Buffer.from([2, 0])),
        record(24, 1, randomBytes(8)),
        randomBytes(5),
      ]) {
        udp.send(datagram, port, "127.0.0.1");
      }
    }
    for (const port of [...tcpPorts, sfu.port]) {
      await new Promise<void>((resolve) => {
        const socket = connect(port, "127.0.0.1", () => {
          socket.write(randomBytes(4096));
          socket.write(Buffer.from([0, 20, 0, 1, 0x21, 0x12, 0xa4, 0x42]));
          setTimeout(() => socket.destroy(), 50);
        });
        socket.on("error", () => resolve());
        socket.on("close", () => resolve());
      });
    }
    udp.close();

    const before = sub.totalPackets();
    await sub.waitFor(() => sub.totalPackets() > before + 50, 5_000, "media after noise");
    expect(sfu.child.exitCode).toBeNull();
    expect(sub.errors).toEqual([]);
    expect(pub.errors).toEqual([]);
    await sub.leave();
    await pub.leave();
  });
});
