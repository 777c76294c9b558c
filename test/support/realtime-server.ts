import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { encode } from "next-auth/jwt";
import { io as connect, type Socket } from "socket.io-client";
import type { SessionUser } from "@/lib/auth/schemas";
import type { Database } from "@/lib/db/client";
import type { ClientCommands, ServerEvents } from "@/lib/realtime/protocol";
import { createRealtime, type Realtime } from "@/lib/realtime/server";
import { setRuntime } from "@/lib/server/runtime";
import { TEST_SECRETS, testConfig } from "./config";
import { openTestDatabase, type TestDbKind } from "./db";

export type TestSocket = Socket<ServerEvents, ClientCommands>;

const SECRET = TEST_SECRETS.authSecret;

/**
 * The web node's realtime half (Socket.IO + chat handlers + a real database) on a loopback
 * port, without Next: what socket tests drive with a real socket.io-client.
 */
export async function startRealtimeServer(
  kind: TestDbKind,
  overrides: Record<string, string> = {},
  options: { database?: Database } = {},
) {
  const ownsDatabase = !options.database;
  const database: Database = options.database ?? (await openTestDatabase(kind));
  const httpServer = createServer((_req, res) => {
    res.statusCode = 404;
    res.end();
  });
  const env = testConfig(overrides);
  const realtime: Realtime = await createRealtime({ httpServer, env, database });
  setRuntime({
    config: env,
    secrets: TEST_SECRETS,
    database,
    io: realtime.io,
    readiness: new Map(),
    services: {},
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
  const sockets: TestSocket[] = [];
  const cookieFor = async (user: SessionUser): Promise<string> => {
    const token = await encode({ token: { sub: user.id, name: user.displayName }, secret: SECRET });
    return `next-auth.session-token=${token}`;
  };

  return {
    url,
    database,
    db: database.db,
    realtime,
    cookieFor,
    /** A connected client for that user (or with that raw cookie / headers). */
    async client(
      user: SessionUser | null,
      options: { cookie?: string; origin?: string; autoConnect?: boolean } = {},
    ): Promise<TestSocket> {
      const cookie = options.cookie ?? (user ? await cookieFor(user) : undefined);
      const headers: Record<string, string> = {};
      if (cookie) headers.cookie = cookie;
      if (options.origin) headers.origin = options.origin;
      const socket: TestSocket = connect(url, {
        path: "/socket.io/",
        transports: ["websocket"],
        extraHeaders: headers,
        reconnection: false,
        forceNew: true,
        autoConnect: options.autoConnect ?? true,
      });
      sockets.push(socket);
      if (options.autoConnect === false) return socket;
      await new Promise<void>((resolve, reject) => {
        socket.once("connect", () => resolve());
        socket.once("connect_error", reject);
      });
      return socket;
    },
    async close() {
      for (const s of sockets) s.disconnect();
      await realtime.close();
      httpServer.closeAllConnections();
      await new Promise((resolve) => httpServer.close(resolve));
      if (ownsDatabase) await database.close();
    },
  };
}

export type RealtimeHarness = Awaited<ReturnType<typeof startRealtimeServer>>;

/** Emits a command and resolves with its ack envelope. */
export function ask(
  socket: TestSocket,
  name: string,
  payload: unknown,
): Promise<{
  ok: boolean;
  data?: unknown;
  error?: { code: string; message: string };
}> {
  return (socket.timeout(5000).emitWithAck as (n: string, p: unknown) => Promise<never>)(
    name,
    payload,
  );
}

/** Resolves with the next `event` the socket receives that passes `filter`. */
export function nextEvent<T>(
  socket: TestSocket,
  event: keyof ServerEvents,
  filter: (payload: T) => boolean = () => true,
  timeoutMs = 5000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, handler as never);
      reject(new Error(`no ${event} within ${timeoutMs} ms`));
    }, timeoutMs);
    const handler = (payload: T) => {
      if (!filter(payload)) return;
      clearTimeout(timer);
      socket.off(event, handler as never);
      resolve(payload);
    };
    socket.on(event, handler as never);
  });
}

/**
 * A round trip on `socket`: resolves once the server has answered a command sent now. The
 * server writes to one connection in order, so whatever it sent this socket before reading
 * the command has arrived by then: how a test shows that something did *not* arrive,
 * without sleeping. The command is one the server does not know, answered at once by the
 * per-socket middleware (lib/realtime/command.ts), so it runs nothing and costs no budget.
 */
export async function roundTrip(socket: TestSocket): Promise<void> {
  const answer = await ask(socket, "test.round-trip", null);
  if (answer.error?.code !== "bad_request") {
    throw new Error(`unexpected answer to a round trip: ${JSON.stringify(answer)}`);
  }
}
