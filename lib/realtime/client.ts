import { io, type Socket } from "socket.io-client";
import type { ErrorBody } from "@/lib/errors";
import type {
  Ack,
  ClientCommands,
  CommandInput,
  CommandName,
  CommandResults,
  ServerEvents,
} from "./protocol";

/**
 * The browser's one Socket.IO connection to the web node, shared by every feature.
 * It goes offline as soon as the browser says the network is gone (rather than waiting for
 * a ping timeout) and reconnects when it returns; features re-subscribe and catch up on
 * every `connect`.
 */
export type ClientSocket = Socket<ServerEvents, ClientCommands>;

/** What a client feature listens to: the server's events and the connection's own. */
export type TransportEvents = ServerEvents & {
  connect: () => void;
  disconnect: (reason: Socket.DisconnectReason) => void;
};

/**
 * What client features (RoomSync, OutboxSender, Call) need of the connection: whether it is
 * up, its events, and commands answered through an ack. The Socket.IO client satisfies it
 * as is; features take one in their constructor, defaulting to the page's shared socket, so
 * tests can drive them over a real socket.io-client of their own, or a fake.
 */
export interface RealtimeTransport {
  readonly connected: boolean;
  on: Listen;
  off: Listen;
  /** Emits with an ack; the promise rejects if none arrives within `ms`. */
  timeout(ms: number): {
    emitWithAck(event: CommandName, payload: unknown): Promise<unknown>;
  };
}

/** `(event, listener) => unknown` for each event, as overloads (what Socket.IO's generic `on` fits). */
type Listen = UnionToIntersection<
  {
    [E in keyof TransportEvents]: (event: E, listener: TransportEvents[E]) => unknown;
  }[keyof TransportEvents]
>;
type UnionToIntersection<U> = (U extends unknown ? (u: U) => void : never) extends (
  i: infer I,
) => void
  ? I
  : never;

let socket: ClientSocket | null = null;

export function getSocket(): ClientSocket {
  if (socket) return socket;
  const s: ClientSocket = io({
    path: "/socket.io/",
    transports: ["websocket", "polling"],
    tryAllTransports: true,
    withCredentials: true,
    reconnectionDelay: 500,
    reconnectionDelayMax: 5000,
  });
  window.addEventListener("offline", () => s.disconnect());
  window.addEventListener("online", () => {
    if (!s.connected) s.connect();
  });
  socket = s;
  return s;
}

/** A refused command: the server's error code and the message to show. */
export class CommandError extends Error {
  constructor(
    readonly code: ErrorBody["code"] | "timeout" | "offline",
    message: string,
  ) {
    super(message);
    this.name = "CommandError";
  }
  /** True when the server never decided (lost connection, timeout): safe to retry. */
  get retryable(): boolean {
    return this.code === "timeout" || this.code === "offline" || this.code === "unavailable";
  }
}

/** How long a command may go unanswered before it fails with `timeout`. */
export const COMMAND_TIMEOUT_MS = 10_000;

/**
 * Sends a command over `transport` and resolves with its data, or rejects with a
 * CommandError: `offline` when not connected (or the connection dropped before the answer),
 * `timeout` when no answer came in time, else the server's own code.
 */
export async function sendCommand<N extends CommandName>(
  transport: RealtimeTransport,
  name: N,
  payload: CommandInput<N>,
  timeoutMs = COMMAND_TIMEOUT_MS,
): Promise<CommandResults[N]> {
  if (!transport.connected) throw new CommandError("offline", "You are offline");
  let result: Ack<CommandResults[N]>;
  try {
    // The server answers every command with this envelope (lib/realtime/command.ts).
    result = (await transport.timeout(timeoutMs).emitWithAck(name, payload)) as Ack<
      CommandResults[N]
    >;
  } catch {
    throw new CommandError(
      transport.connected ? "timeout" : "offline",
      "No answer from the server",
    );
  }
  if (!result.ok) throw new CommandError(result.error.code, result.error.message);
  return result.data;
}

/** {@link sendCommand} over the page's shared socket. */
export function command<N extends CommandName>(
  name: N,
  payload: CommandInput<N>,
  timeoutMs = COMMAND_TIMEOUT_MS,
): Promise<CommandResults[N]> {
  return sendCommand(getSocket(), name, payload, timeoutMs);
}
