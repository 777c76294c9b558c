/**
 * The client end of the signaling protocol over socket.io-client: typed commands that
 * resolve with their result (or reject with {@link CommandError}), and typed events parsed
 * with their zod schemas. Used by the bot; browser-safe (no werift, no Node modules), so
 * the call UI can use it too.
 */
import { io, type Socket } from "socket.io-client";
import {
  ackSchema,
  type ClientToServerEvents,
  type CommandInput,
  type CommandName,
  type CommandResult,
  commands,
  type ErrorCode,
  type EventName,
  type EventPayload,
  events,
  type ServerToClientEvents,
  SIGNALING_PATH,
} from "./protocol";

/** A command the server refused, with the protocol's error code. */
export class CommandError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "CommandError";
  }
}

interface UntypedEvents {
  on(event: string, listener: (raw: unknown) => void): unknown;
  off(event: string, listener: (raw: unknown) => void): unknown;
}

export interface SignalingOptions {
  /** Origin of the SFU or of the web node proxying it (http://host:port). */
  url: string;
  /** Socket.IO path; defaults to the SFU's own. */
  path?: string;
  /** How long a command may take before it rejects with a timeout. */
  timeoutMs?: number;
  /** Start on HTTP long-polling and upgrade (as browsers may); default WebSocket only. */
  polling?: boolean;
}

export class SignalingClient {
  readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;
  private readonly timeoutMs: number;

  constructor(options: SignalingOptions) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.socket = io(options.url, {
      path: options.path ?? SIGNALING_PATH,
      transports: options.polling ? ["polling", "websocket"] : ["websocket"],
      reconnection: false,
      forceNew: true,
    });
  }

  /** Resolves once connected; rejects on a connection error. */
  connected(): Promise<void> {
    if (this.socket.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.socket.once("connect", () => resolve());
      this.socket.once("connect_error", (err) => reject(err));
    });
  }

  /** Sends a command; resolves with its result or rejects with a CommandError. */
  async request<K extends CommandName>(name: K, payload: CommandInput<K>): Promise<CommandResult<K>> {
    // socket.io's typed emit cannot follow a generic K; the payload type is checked above.
    const emit = this.socket.timeout(this.timeoutMs).emitWithAck as (
      event: string,
      payload: unknown,
    ) => Promise<unknown>;
    let raw: unknown;
    try {
      raw = await emit.call(this.socket.timeout(this.timeoutMs), name, payload);
    } catch (err) {
      throw new CommandError("internal", `${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const parsed = ackSchema(commands[name].output).safeParse(raw);
    if (!parsed.success) throw new CommandError("internal", `${name}: malformed answer from the SFU`);
    if (!parsed.data.ok) throw new CommandError(parsed.data.error.code, parsed.data.error.message);
    return parsed.data.data as CommandResult<K>;
  }

  /** Listens to an event; malformed payloads are dropped. Returns the unsubscribe function. */
  on<K extends EventName>(event: K, listener: (payload: EventPayload<K>) => void): () => void {
    const schema = events[event];
    const handler = (raw: unknown) => {
      const parsed = schema.safeParse(raw);
      if (parsed.success) listener(parsed.data as EventPayload<K>);
    };
    // The typed socket cannot take an `unknown` listener; the payload is parsed above instead.
    const socket = this.socket as unknown as UntypedEvents;
    socket.on(event, handler);
    return () => socket.off(event, handler);
  }

  close(): void {
    this.socket.disconnect();
  }
}
