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

type SignalingSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

export class SignalingClient {
  private socket_: SignalingSocket;
  private readonly timeoutMs: number;
  /** Every listener added through {@link on} and {@link onDisconnect}, for a new socket. */
  private readonly listeners: [event: string, listener: (arg: never) => void][] = [];

  constructor(private readonly options: SignalingOptions) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.socket_ = this.open();
  }

  /** The current socket ({@link reconnect} replaces it). */
  get socket(): SignalingSocket {
    return this.socket_;
  }

  private open(): SignalingSocket {
    return io(this.options.url, {
      path: this.options.path ?? SIGNALING_PATH,
      transports: this.options.polling ? ["polling", "websocket"] : ["websocket"],
      reconnection: false,
      forceNew: true,
    });
  }

  /**
   * Connects a new socket with the same listeners, for `resume` after the old one died with
   * its network. The old socket is left alone: the SFU drops it when the session moves over
   * (closing it from here would tell the SFU the participant left); it is closed here only
   * when the new socket cannot connect.
   */
  async reconnect(): Promise<void> {
    const old = this.socket_;
    old.removeAllListeners();
    this.socket_ = this.open();
    const untyped = this.socket_ as unknown as UntypedEvents;
    for (const [event, listener] of this.listeners)
      untyped.on(event, listener as (raw: unknown) => void);
    try {
      await this.connected();
    } catch (err) {
      old.disconnect();
      throw err;
    }
  }

  /** Listens to the socket's `disconnect` (with its reason), on this socket and the next. */
  onDisconnect(listener: (reason: string) => void): () => void {
    return this.listen("disconnect", listener as (raw: unknown) => void);
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
  async request<K extends CommandName>(
    name: K,
    payload: CommandInput<K>,
    timeoutMs = this.timeoutMs,
  ): Promise<CommandResult<K>> {
    // socket.io's typed emit cannot follow a generic K; the payload type is checked above.
    const timed = this.socket.timeout(timeoutMs);
    const emit = timed.emitWithAck as (event: string, payload: unknown) => Promise<unknown>;
    let raw: unknown;
    try {
      raw = await emit.call(timed, name, payload);
    } catch (err) {
      throw new CommandError(
        "internal",
        `${name}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
    const parsed = ackSchema(commands[name].output).safeParse(raw);
    if (!parsed.success)
      throw new CommandError("internal", `${name}: malformed answer from the SFU`);
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
    return this.listen(event, handler);
  }

  private listen(event: string, handler: (raw: unknown) => void): () => void {
    // The typed socket cannot take an `unknown` listener; payloads are parsed by the caller.
    const entry: [string, (arg: never) => void] = [event, handler];
    this.listeners.push(entry);
    (this.socket_ as unknown as UntypedEvents).on(event, handler);
    return () => {
      this.listeners.splice(this.listeners.indexOf(entry), 1);
      (this.socket_ as unknown as UntypedEvents).off(event, handler);
    };
  }

  close(): void {
    this.socket.disconnect();
  }
}
