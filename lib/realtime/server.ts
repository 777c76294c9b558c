import "server-only";
import type { Server as HttpServer } from "node:http";
import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";
import { getSessionUserFromCookieHeader } from "@/lib/auth/session";
import type { Database } from "@/lib/db/client";
import type { Env } from "@/lib/env";
import type { Feature } from "@/lib/server/feature";
import { logger } from "@/lib/server/log";
import { registerCallHandlers, rosterBroadcaster } from "./call-handlers";
import { registerChatHandlers } from "./chat-handlers";
import { type AppSocket, limitCommands, type SocketData } from "./command";
import { registerFocusHandler } from "./focus";
import { isAllowedOrigin } from "./origin";
import { presenceBroadcaster } from "./presence";
import {
  channel,
  type ClientCommands,
  MAX_SOCKET_PAYLOAD_BYTES,
  type ServerEvents,
} from "./protocol";
import { createRateLimit } from "@/lib/server/rate-limit";

const log = logger("realtime");

export type AppServer = Server<ClientCommands, ServerEvents, Record<string, never>, SocketData>;

export interface Realtime extends Feature {
  io: AppServer;
  /** The adapter's Redis connection (REDIS_URL), for other node-wide limits; else undefined. */
  redis: Redis | undefined;
  close(): Promise<void>;
}

/**
 * The Socket.IO server for chat, presence and room events. Authenticates each connection
 * from the NextAuth session cookie (and nothing else), checks the Origin, bounds frames,
 * and — with REDIS_URL — shares rooms and rate limits across web nodes through Redis.
 */
export async function createRealtime(options: {
  httpServer: HttpServer;
  env: Env;
  database: Database;
}): Promise<Realtime> {
  const { env, database } = options;
  const io: AppServer = new Server(options.httpServer, {
    path: "/socket.io/",
    serveClient: false,
    maxHttpBufferSize: MAX_SOCKET_PAYLOAD_BYTES,
    // Other features (the SFU's signaling proxy, Next's dev server) take other upgrades.
    destroyUpgrade: false,
    pingInterval: 10_000,
    pingTimeout: 10_000,
    allowRequest: (req, callback) => {
      const ok = isAllowedOrigin(req, { publicUrl: env.PUBLIC_URL, extra: env.ALLOWED_ORIGINS });
      callback(ok ? null : "origin not allowed", ok);
    },
  });

  const redisClients: Redis[] = [];
  let redis: Redis | undefined;
  if (env.REDIS_URL) {
    const pub = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 2 });
    const sub = pub.duplicate();
    for (const client of [pub, sub]) {
      client.on("error", (err: Error) => log.warn("redis", { err: err.message }));
    }
    redisClients.push(pub, sub);
    io.adapter(createAdapter(pub, sub, { requestsTimeout: 3000 }));
    redis = pub;
    log.info("using the Redis adapter");
  }

  // Authentication happens once per connection, at the handshake; the user is kept on the
  // socket and every command re-checks room membership against the database.
  io.use((socket, next) => {
    getSessionUserFromCookieHeader(socket.handshake.headers.cookie, database.db).then(
      (user) => {
        if (!user) return next(new Error("unauthorized"));
        socket.data.user = user;
        next();
      },
      (err: unknown) => {
        log.warn("handshake failed", { err: String(err) });
        next(new Error("unavailable"));
      },
    );
  });

  const deps = {
    io,
    db: () => database.db,
    limits: { maxMessageLength: env.CHAT_MAX_MESSAGE_LENGTH },
    writes: createRateLimit({
      points: env.CHAT_RATE_POINTS,
      durationS: env.CHAT_RATE_WINDOW_S,
      prefix: "chat-writes",
      redis,
    }),
    typing: createRateLimit({ points: 1, durationS: 2, prefix: "typing" }),
    broadcastPresence: presenceBroadcaster(io),
  };

  const broadcastRoster = rosterBroadcaster(io);
  io.on("connection", (socket: AppSocket) => {
    limitCommands(socket, {
      burst: env.SOCKET_COMMAND_BURST,
      perSecond: env.SOCKET_COMMAND_RATE_PER_S,
    });
    void socket.join(channel.user(socket.data.user.id));
    registerChatHandlers(socket, deps);
    registerFocusHandler(socket);
    registerCallHandlers(socket, { io, db: deps.db, broadcastRoster });
  });

  return {
    name: "realtime",
    io,
    redis,
    ready: () => true,
    async close() {
      io.disconnectSockets(true);
      await new Promise<void>((resolve) => {
        void io.close(() => resolve());
      });
      await Promise.all(redisClients.map((c) => c.quit().catch(() => undefined)));
    },
  };
}
