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

/** Sends a command and resolves with its data, or rejects with a CommandError. */
export async function command<N extends CommandName>(
  name: N,
  payload: CommandInput<N>,
  timeoutMs = 10_000,
): Promise<CommandResults[N]> {
  const s = getSocket();
  if (!s.connected) throw new CommandError("offline", "You are offline");
  let result: Ack<CommandResults[N]>;
  try {
    const timed = s.timeout(timeoutMs);
    const emit = timed.emitWithAck.bind(timed) as unknown as (
      event: N,
      payload: CommandInput<N>,
    ) => Promise<Ack<CommandResults[N]>>;
    result = await emit(name, payload);
  } catch {
    throw new CommandError(s.connected ? "timeout" : "offline", "No answer from the server");
  }
  if (!result.ok) throw new CommandError(result.error.code, result.error.message);
  return result.data;
}
