import type { Socket } from "node:dgram";
import { createSocket } from "node:dgram";
import { describe, expect, it } from "vitest";
import { sendCopy, sendCopyStats } from "../srtp/udp-send";

/** A socket whose UDP handle records what it was given and answers like libuv would. */
function fakeSocket(results: number[]) {
  const sent: Array<{ buffer: Buffer; bytes: string; request: object }> = [];
  const handle = {
    send(request: object, list: Buffer[], count: number, port: number, address: string) {
      expect(count).toBe(1);
      expect([port, address]).toEqual([5000, "127.0.0.1"]);
      sent.push({ buffer: list[0]!, bytes: list[0]!.toString("hex"), request });
      return results.shift() ?? 1;
    },
  };
  const socket = { [Symbol("state symbol")]: { handle } } as unknown as Socket;
  return { socket, sent };
}

describe("sendCopy (the forwarding path's send)", () => {
  it("reuses one buffer and request while the kernel takes every datagram at once", () => {
    const { socket, sent } = fakeSocket([8, 8, 8]);
    for (const byte of [1, 2, 3]) sendCopy(socket, Buffer.alloc(7, byte), 7, 5000, "127.0.0.1");
    expect(sent.map((s) => s.bytes)).toEqual(["01".repeat(7), "02".repeat(7), "03".repeat(7)]);
    expect(sent[1]!.buffer.buffer).toBe(sent[0]!.buffer.buffer);
    expect(sent[2]!.request).toBe(sent[0]!.request);
  });

  it("leaves a queued datagram's bytes alone: the next send gets a new buffer and request", () => {
    const { socket, sent } = fakeSocket([0, 5, 5]);
    const queuedBefore = sendCopyStats.queued;
    sendCopy(socket, Buffer.from("aaaa"), 4, 5000, "127.0.0.1"); // queued (EAGAIN)
    sendCopy(socket, Buffer.from("bbbb"), 4, 5000, "127.0.0.1");
    sendCopy(socket, Buffer.from("cccc"), 4, 5000, "127.0.0.1");
    expect(sendCopyStats.queued).toBe(queuedBefore + 1);
    // libuv still holds the first buffer: it must still read "aaaa".
    expect(sent[0]!.buffer.toString()).toBe("aaaa");
    expect(sent[1]!.buffer.buffer).not.toBe(sent[0]!.buffer.buffer);
    expect(sent[1]!.request).not.toBe(sent[0]!.request);
    expect(sent[2]!.buffer.buffer).toBe(sent[1]!.buffer.buffer);
    expect((sent[0]!.request as { list?: Buffer[] }).list?.[0]).toBe(sent[0]!.buffer);
  });

  it("delivers the bytes over a real socket, one datagram per send", async () => {
    const receiver = createSocket("udp4");
    const sender = createSocket("udp4");
    await new Promise<void>((resolve) => receiver.bind(0, "127.0.0.1", resolve));
    await new Promise<void>((resolve) => sender.bind(0, "127.0.0.1", resolve));
    const got: string[] = [];
    const done = new Promise<void>((resolve) =>
      receiver.on("message", (message) => {
        got.push(message.toString());
        if (got.length === 3) resolve();
      }),
    );
    const port = receiver.address().port;
    const scratch = Buffer.alloc(64);
    for (const text of ["one", "two!", "three"]) {
      scratch.write(text);
      sendCopy(sender, scratch, text.length, port, "127.0.0.1");
    }
    await done;
    expect(got).toEqual(["one", "two!", "three"]);
    sender.close();
    receiver.close();
  });
});
