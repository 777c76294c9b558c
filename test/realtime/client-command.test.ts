import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";
import { io as connect } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandError, type ClientSocket, sendCommand } from "@/lib/realtime/client";

/**
 * How a command fails, seen from the browser's side (lib/realtime/client.ts), over a real
 * socket.io-client and a bare Socket.IO server whose answers each test picks: the
 * difference between "the server said no" and "nobody knows" decides whether the outbox
 * marks a message failed or sends it again.
 */
describe("commands from the client", () => {
  const httpServer = createServer();
  const io = new Server(httpServer, { path: "/socket.io/" });
  let url = "";
  const sockets: ClientSocket[] = [];

  beforeAll(async () => {
    io.on("connection", (socket) => {
      // room.sync answers; room.rename is refused; typing.start is never answered;
      // read.mark drops the connection instead of answering.
      socket.on("room.sync", (_payload: unknown, ack: (a: unknown) => void) =>
        ack({ ok: true, data: { events: [], throughSeq: 7, hasMore: false } }),
      );
      socket.on("room.rename", (_payload: unknown, ack: (a: unknown) => void) =>
        ack({ ok: false, error: { code: "forbidden", message: "Only the owner may rename" } }),
      );
      socket.on("typing.start", () => undefined);
      socket.on("read.mark", () => socket.disconnect(true));
    });
    await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.disconnect();
    await io.close();
  });

  async function client(options: { connected?: boolean } = {}): Promise<ClientSocket> {
    const socket: ClientSocket = connect(url, {
      path: "/socket.io/",
      transports: ["websocket"],
      reconnection: false,
      forceNew: true,
      autoConnect: options.connected ?? true,
    });
    sockets.push(socket);
    if (options.connected !== false) await new Promise((r) => socket.once("connect", () => r(0)));
    return socket;
  }

  const roomId = crypto.randomUUID();

  it("resolves with the answer's data", async () => {
    const socket = await client();
    expect(await sendCommand(socket, "room.sync", { roomId, afterSeq: 0 })).toEqual({
      events: [],
      throughSeq: 7,
      hasMore: false,
    });
  });

  it("rejects with the server's code when refused: not retryable", async () => {
    const socket = await client();
    const err = await sendCommand(socket, "room.rename", { roomId, name: "x" }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CommandError);
    expect(err).toMatchObject({ code: "forbidden", message: "Only the owner may rename" });
    expect((err as CommandError).retryable).toBe(false);
  });

  it("times out when nobody answers: retryable", async () => {
    const socket = await client();
    const started = Date.now();
    const err = await sendCommand(socket, "typing.start", { roomId }, 200).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "timeout", retryable: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    // The connection is still good.
    expect((await sendCommand(socket, "room.sync", { roomId, afterSeq: 0 })).throughSeq).toBe(7);
  });

  it("is offline, at once and retryable, when the connection drops before the answer", async () => {
    const socket = await client();
    const started = Date.now();
    const err = await sendCommand(socket, "read.mark", { roomId, seq: 1 }, 5_000).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "offline", retryable: true });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("is offline without sending anything when not connected", async () => {
    const socket = await client({ connected: false });
    let sent = 0;
    socket.onAnyOutgoing(() => sent++);
    const err = await sendCommand(socket, "room.sync", { roomId, afterSeq: 0 }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: "offline", message: "You are offline" });
    expect(sent).toBe(0);
  });
});
