import "server-only";
import type { Socket } from "socket.io";
import type { SessionUser } from "@/lib/auth/schemas";
import { isAppError, isDatabaseUnavailable, toErrorBody } from "@/lib/errors";
import { logger } from "@/lib/server/log";
import { formatWait } from "@/lib/server/rate-limit";
import { noteActivity } from "@/lib/stall-watchdog";
import { TokenBucket } from "@/lib/token-bucket";
import {
  type Ack,
  type ClientCommands,
  type CommandName,
  type CommandResults,
  commands,
  type ServerEvents,
} from "./protocol";
import type { z } from "zod";

const log = logger("realtime");

export interface SocketData {
  user: SessionUser;
  /** The room this tab shows and whether it is visible and focused (`client.focus`). */
  focus?: { roomId: string | null; active: boolean };
  /** Each call this tab is in (or joining): its current session (call-handlers.ts). */
  calls?: Map<string, string | undefined>;
}
export type AppSocket = Socket<ClientCommands, ServerEvents, Record<string, never>, SocketData>;

type Handler<N extends CommandName> = (
  input: z.output<(typeof commands)[N]>,
  socket: AppSocket,
) => Promise<CommandResults[N]>;

/**
 * Every socket's budget of commands, whatever they are (reads cost the database too): a
 * burst, then a steady rate. Over it, a command is answered `rate_limited` and not run.
 * Installed once per socket, ahead of every handler (Socket.IO's per-socket middleware),
 * where it also notes each command for the stall watchdog.
 */
export function limitCommands(
  socket: AppSocket,
  options: { burst: number; perSecond: number },
): void {
  const budget = new TokenBucket(options.burst, options.perSecond);
  socket.use((packet, next) => {
    // What this node is doing, should the event loop stall (lib/stall-watchdog.ts).
    noteActivity(`socket ${String(packet[0]).slice(0, 40)}`);
    const ack = packet[packet.length - 1];
    // An event that is no command still gets an answer (and nothing runs).
    if (typeof packet[0] !== "string" || !Object.hasOwn(commands, packet[0])) {
      if (typeof ack === "function")
        (ack as (result: Ack<never>) => void)({
          ok: false,
          error: {
            code: "bad_request",
            message: `Unknown command ${String(packet[0]).slice(0, 40)}`,
          },
        });
      return;
    }
    if (budget.take()) return next();
    if (typeof ack === "function") {
      const wait = formatWait(Math.max(1, Math.ceil(budget.msUntilNext() / 1000)));
      (ack as (result: Ack<never>) => void)({
        ok: false,
        error: { code: "rate_limited", message: `Too many requests; wait ${wait}` },
      });
    }
  });
}

/**
 * Registers a command: parses the payload with its schema, runs the handler, and answers
 * with an envelope. A client that sends no ack callback is misbehaving: it is disconnected.
 * Bad input gets a bad_request ack and changes nothing; a bug gets "internal" and a log
 * line; nothing a client sends can throw out of here.
 */
export function onCommand<N extends CommandName>(
  socket: AppSocket,
  name: N,
  handler: Handler<N>,
): void {
  const schema = commands[name];
  socket.on(name, ((payload: unknown, ack: unknown) => {
    if (typeof ack !== "function") {
      socket.disconnect(true);
      return;
    }
    const reply = ack as (result: Ack<CommandResults[N]>) => void;
    const parsed = schema.safeParse(payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
      reply({
        ok: false,
        error: { code: "bad_request", message: `${where}${issue?.message ?? "invalid"}` },
      });
      return;
    }
    handler(parsed.data as z.output<(typeof commands)[N]>, socket).then(
      (data) => reply({ ok: true, data }),
      (err: unknown) => {
        if (isDatabaseUnavailable(err)) {
          log.warn(`${name}: the database is unavailable`);
        } else if (!isAppError(err)) {
          log.error(`${name} failed`, { user: socket.data.user.id, err: String(err) });
        }
        reply({ ok: false, error: toErrorBody(err) });
      },
    );
  }) as never);
}
