/**
 * The ceiling for `npm run bench:chat`: Socket.IO 4 with rooms and nothing else — no auth,
 * no validation beyond shape, no database. It speaks the subset of Parley's protocol the
 * bench uses (`room.subscribe`, `message.send` → `room.event` to the room + an ack), so the
 * same bots drive both, and it sends an event of Parley's shape and size so the bytes per
 * delivery match. Whatever Parley does beyond this costs CPU this server does not spend.
 *
 * Run: `node --import ./scripts/node-hooks.mjs --import tsx bench/bare-socketio-server.ts`
 * with PORT (0 = any free port); prints one JSON line `{ "port": n }` once listening.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "socket.io";

type Reply = (result: unknown) => void;

const httpServer = createServer((_req, res) => {
  res.writeHead(404).end();
});
// The same engine settings as the web node (lib/realtime/server.ts), so only the work differs.
const io = new Server(httpServer, {
  path: "/socket.io/",
  serveClient: false,
  maxHttpBufferSize: 512 * 1024,
  pingInterval: 10_000,
  pingTimeout: 10_000,
});

/** Per-room sequence numbers, as Parley's event log has; kept in memory here. */
const lastSeq = new Map<string, number>();

io.on("connection", (socket) => {
  const userId = randomUUID();
  socket.on("room.subscribe", (payload: { roomId?: unknown }, ack: unknown) => {
    if (typeof ack !== "function" || typeof payload?.roomId !== "string") return;
    void socket.join(`room:${payload.roomId}`);
    (ack as Reply)({
      ok: true,
      data: { participants: [], lastSeq: lastSeq.get(payload.roomId) ?? 0 },
    });
  });
  socket.on(
    "message.send",
    (payload: { roomId?: unknown; clientId?: unknown; body?: unknown }, ack: unknown) => {
      if (typeof ack !== "function") return;
      const { roomId, clientId, body } = payload ?? {};
      if (typeof roomId !== "string" || typeof clientId !== "string" || typeof body !== "string") {
        (ack as Reply)({ ok: false, error: { code: "bad_request", message: "bad payload" } });
        return;
      }
      const seq = (lastSeq.get(roomId) ?? 0) + 1;
      lastSeq.set(roomId, seq);
      const message = {
        id: randomUUID(),
        roomId,
        seq,
        clientId,
        author: { id: userId, displayName: "Bench guest" },
        body,
        replyTo: null,
        createdAt: new Date().toISOString(),
        editedAt: null,
        deletedAt: null,
        reactions: [],
        attachments: [],
      };
      io.to(`room:${roomId}`).emit("room.event", { type: "message.created", roomId, seq, message });
      (ack as Reply)({ ok: true, data: message });
    },
  );
});

httpServer.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  const { port } = httpServer.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});

const stop = () => {
  void io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
