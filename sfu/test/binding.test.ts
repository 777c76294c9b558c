import { createSocket, type Socket } from "node:dgram";
import { Message, parseMessage, RTCPeerConnection } from "werift";
import { afterEach, describe, expect, it } from "vitest";
import { asDtlsServer, type MediaNetwork, peerConfig } from "../media";
import { authenticateChecks } from "../werift-patches";

/**
 * The SFU answers ICE connectivity checks itself (werift-patches.ts: answerBinding), on a
 * real werift pair over loopback set up as the SFU's publish side: the client connects on
 * those answers, werift's own response path stays unused, and a forged check gets none.
 */
const LOOPBACK: MediaNetwork = { mediaIp: "127.0.0.1", iceTcp: false };
const BINDING_REQUEST = [0x001, 0x000] as const;

let open: { close(): unknown }[] = [];
afterEach(async () => {
  await Promise.allSettled(open.map((o) => o.close()));
  open = [];
});

/** Connects a client to an SFU-side lite peer; counts werift's own responses on the SFU side. */
async function connect() {
  const sfu = new RTCPeerConnection(peerConfig(LOOPBACK, "publish", "lite"));
  const client = new RTCPeerConnection(peerConfig(LOOPBACK, "publish"));
  open.push(sfu, client);
  client.onicecandidate = ({ candidate }) => {
    if (candidate) void sfu.addIceCandidate(candidate).catch(() => {});
  };
  client.addTransceiver("video", { direction: "sendonly" });
  await client.setLocalDescription(await client.createOffer());
  await sfu.setRemoteDescription(client.localDescription!);
  const answer = await sfu.createAnswer();
  await sfu.setLocalDescription({ type: "answer", sdp: asDtlsServer(answer.sdp) });
  authenticateChecks(sfu);
  const agent = sfu.dtlsTransports[0]!.iceTransport.connection as unknown as {
    protocols: { sendStun: (...args: unknown[]) => Promise<void> }[];
  };
  const weriftResponses = { count: 0 };
  for (const protocol of agent.protocols) {
    const sendStun = protocol.sendStun.bind(protocol);
    protocol.sendStun = (...args) => {
      weriftResponses.count++;
      return sendStun(...args);
    };
  }
  const connected = new Promise<void>((resolve) =>
    sfu.connectionStateChange.subscribe((state) => state === "connected" && resolve()),
  );
  await client.setRemoteDescription(sfu.localDescription!);
  await connected;
  const sdp = sfu.localDescription!.sdp;
  const port = Number(/a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+)/.exec(sdp)![1]);
  const ufrag = /a=ice-ufrag:(\S+)/.exec(sdp)![1]!;
  const password = /a=ice-pwd:(\S+)/.exec(sdp)![1]!;
  return { port, ufrag, password, weriftResponses };
}

/** A binding request from a raw socket, as a browser's consent check looks. */
function check(username: string, password: string): Buffer {
  const message = new Message(...BINDING_REQUEST);
  message
    .setAttribute("USERNAME", username)
    .setAttribute("PRIORITY", 1_845_501_695)
    .addMessageIntegrity(Buffer.from(password, "utf8"))
    .addFingerprint();
  return message.bytes;
}

async function ask(socket: Socket, port: number, request: Buffer, waitMs = 500) {
  const answer = new Promise<Buffer | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), waitMs);
    socket.once("message", (data) => {
      clearTimeout(timer);
      resolve(data);
    });
  });
  socket.send(request, port, "127.0.0.1");
  return answer;
}

describe("ICE connectivity checks answered by the SFU", () => {
  it("connects a client on its answers, without werift's response path", async () => {
    const { weriftResponses } = await connect();
    expect(weriftResponses.count).toBe(0);
  });

  it("answers an authentic check with the sender's address, signed, and a forged one not at all", async () => {
    const { port, ufrag, password, weriftResponses } = await connect();
    const socket = createSocket("udp4");
    open.push(socket);
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    const own = socket.address().port;

    expect(await ask(socket, port, check(`${ufrag}:peer`, "not-the-password-at-all"))).toBe(
      undefined,
    );
    const answer = await ask(socket, port, check(`${ufrag}:peer`, password));
    expect(answer).toBeDefined();
    const parsed = parseMessage(answer!, Buffer.from(password, "utf8"));
    expect(parsed?.messageClass).toBe(0x100); // success response
    expect(parsed?.getAttributeValue("XOR-MAPPED-ADDRESS")).toEqual(["127.0.0.1", own]);
    expect(weriftResponses.count).toBe(0);
  });
});
