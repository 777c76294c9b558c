import { createSocket, type Socket } from "node:dgram";
import { Message, parseMessage, type RTCPeerConnection } from "werift";
import { describe, expect, it } from "vitest";
import { withLoopbackPair } from "../self-check";
import { authenticateChecks } from "../werift-patches";

/**
 * The SFU answers ICE connectivity checks itself (werift-patches.ts: answerBinding), on a
 * real werift pair over loopback set up as the SFU's publish side: the client connects on
 * those answers, werift's own response path stays unused, and a forged check gets none.
 */
const BINDING_REQUEST = [0x001, 0x000] as const;

/** werift's own responses on the SFU side: the agent's protocols' `sendStun`, counted. */
function countWeriftResponses(sfu: RTCPeerConnection) {
  const agent = sfu.dtlsTransports[0]!.iceTransport.connection as unknown as {
    protocols: { sendStun: (...args: unknown[]) => Promise<void> }[];
  };
  const counted = { count: 0 };
  for (const protocol of agent.protocols) {
    const sendStun = protocol.sendStun.bind(protocol);
    protocol.sendStun = (...args) => {
      counted.count++;
      return sendStun(...args);
    };
  }
  return counted;
}

/** Connects a client to an SFU-side lite peer that authenticates and answers checks as the SFU does. */
async function connected<T>(
  check: (sfu: { port: number; ufrag: string; password: string }) => Promise<T>,
): Promise<{ result: T; weriftResponses: number }> {
  let weriftResponses = { count: 0 };
  const result = await withLoopbackPair(
    ({ pc }) => {
      const sdp = pc.localDescription!.sdp;
      return check({
        port: Number(/a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+)/.exec(sdp)![1]),
        ufrag: /a=ice-ufrag:(\S+)/.exec(sdp)![1]!,
        password: /a=ice-pwd:(\S+)/.exec(sdp)![1]!,
      });
    },
    {
      prepare: (sfu) => {
        authenticateChecks(sfu);
        weriftResponses = countWeriftResponses(sfu);
      },
    },
  );
  return { result, weriftResponses: weriftResponses.count };
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
    const { weriftResponses } = await connected(async () => undefined);
    expect(weriftResponses).toBe(0);
  });

  it("answers an authentic check with the sender's address, signed, and a forged one not at all", async () => {
    const socket = createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    const own = socket.address().port;
    try {
      const { result, weriftResponses } = await connected(async ({ port, ufrag, password }) => ({
        forged: await ask(socket, port, check(`${ufrag}:peer`, "not-the-password-at-all")),
        answer: await ask(socket, port, check(`${ufrag}:peer`, password)),
        password,
      }));
      expect(result.forged).toBe(undefined);
      expect(result.answer).toBeDefined();
      const parsed = parseMessage(result.answer!, Buffer.from(result.password, "utf8"));
      expect(parsed?.messageClass).toBe(0x100); // success response
      expect(parsed?.getAttributeValue("XOR-MAPPED-ADDRESS")).toEqual(["127.0.0.1", own]);
      expect(weriftResponses).toBe(0);
    } finally {
      socket.close();
    }
  });
});
