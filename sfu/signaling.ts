/**
 * One participant's Socket.IO connection: parses every incoming command with its zod
 * schema (never a cast), rate-limits, answers through the ack envelope, and sends typed
 * events. Who handles the commands changes once: the Server before `join`, the Peer after.
 */
import type { Socket } from "socket.io";
import { z } from "zod";
import { SfuError, toErrorBody } from "./errors";
import type { Logger } from "./log";
import {
  type Ack,
  type CommandName,
  type CommandPayload,
  type CommandResult,
  commands,
  type EventName,
  type EventPayload,
  isCommandName,
} from "./protocol";

/**
 * What a Peer needs of its client's socket. On a media worker it is a RemoteSocket
 * (sfu/worker.ts) relaying to the ParticipantSocket on the main thread.
 */
export interface PeerSocket {
  readonly connected: boolean;
  send<K extends EventName>(event: K, payload: EventPayload<K>): void;
  disconnect(): void;
  /** Called once, with Socket.IO's reason, when the socket goes. */
  onDisconnect(listener: (reason: string) => void): void;
}

export type CommandHandler = <K extends CommandName>(
  name: K,
  payload: CommandPayload<K>,
) => Promise<CommandResult<K>>;

/** Commands per socket: a burst of trickled candidates is fine, a flood is not. */
const BUCKET_SIZE = 100;
const REFILL_PER_S = 50;

export class ParticipantSocket implements PeerSocket {
  private handler: CommandHandler;
  private tokens = BUCKET_SIZE;
  private lastRefill = Date.now();
  private joinTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: Socket,
    private readonly log: Logger,
    initial: CommandHandler,
  ) {
    this.handler = initial;
    socket.onAny((event: unknown, ...args: unknown[]) => this.receive(event, args));
  }

  get id(): string {
    return this.socket.id;
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Disconnects unless {@link handOver} is called within `ms` (a half-joined socket). */
  requireJoinWithin(ms: number): void {
    this.joinTimer = setTimeout(() => this.disconnect(), ms);
    this.joinTimer.unref();
    this.socket.once("disconnect", () => clearTimeout(this.joinTimer));
  }

  /** From now on, commands go to `handler` (the joined Peer). */
  handOver(handler: CommandHandler): void {
    clearTimeout(this.joinTimer);
    this.handler = handler;
  }

  onDisconnect(listener: (reason: string) => void): void {
    this.socket.once("disconnect", listener);
  }

  send<K extends EventName>(event: K, payload: EventPayload<K>): void {
    if (this.socket.connected) this.socket.emit(event, payload);
  }

  disconnect(): void {
    this.socket.disconnect(true);
  }

  private receive(event: unknown, args: unknown[]): void {
    const last = args[args.length - 1];
    // Every command carries an ack; a message without one cannot be answered and is dropped.
    if (typeof last !== "function") return;
    const ack = (response: Ack<unknown>) => (last as (r: Ack<unknown>) => void)(response);
    if (!this.take()) {
      ack({ ok: false, error: { code: "rate_limited", message: "too many commands" } });
      return;
    }
    if (typeof event !== "string" || !isCommandName(event)) {
      ack({
        ok: false,
        error: {
          code: "unknown_command",
          message: `unknown command ${String(event).slice(0, 40)}`,
        },
      });
      return;
    }
    const parsed = commands[event].input.safeParse(args.length > 1 ? args[0] : undefined);
    if (!parsed.success) {
      ack({
        ok: false,
        error: { code: "bad_request", message: z.prettifyError(parsed.error).slice(0, 500) },
      });
      return;
    }
    const handler = this.handler;
    handler(event, parsed.data as CommandPayload<typeof event>).then(
      (data) => ack({ ok: true, data }),
      (err: unknown) => {
        if (!(err instanceof SfuError)) {
          this.log.error(`command ${event} failed`, {
            err: err instanceof Error ? (err.stack ?? err.message) : String(err),
          });
        }
        ack({ ok: false, error: toErrorBody(err) });
      },
    );
  }

  private take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(
      BUCKET_SIZE,
      this.tokens + ((now - this.lastRefill) / 1000) * REFILL_PER_S,
    );
    this.lastRefill = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
