import type { RealtimeTransport, TransportEvents } from "@/lib/realtime/client";
import type { Ack, CommandName } from "@/lib/realtime/protocol";
import type { TestSocket } from "./realtime-server";

type AnyListener = (...args: never[]) => void;

/** A command a transport sent, and how it was answered (undefined until then, or never). */
export interface SentCommand {
  name: CommandName;
  payload: unknown;
  answer?: unknown;
}

/**
 * A real socket.io-client socket as client code sees it (RealtimeTransport), with two test
 * hooks: it records every command and its answer, and `dropEvent` makes the network lose
 * the live `room.event`s it picks (they never reach the listeners).
 */
export function observedTransport(
  socket: TestSocket,
  options: { dropEvent?: (event: Parameters<TransportEvents["room.event"]>[0]) => boolean } = {},
): RealtimeTransport & { sent: SentCommand[] } {
  const wrapped = new Map<AnyListener, AnyListener>();
  const raw = socket as unknown as {
    on(event: string, listener: AnyListener): void;
    off(event: string, listener: AnyListener): void;
  };
  const sent: SentCommand[] = [];
  return {
    sent,
    get connected() {
      return socket.connected;
    },
    on(event: string, listener: AnyListener) {
      let actual = listener;
      const drop = options.dropEvent;
      if (event === "room.event" && drop) {
        actual = ((e: Parameters<typeof drop>[0]) => {
          if (!drop(e)) (listener as (e: unknown) => void)(e);
        }) as AnyListener;
      }
      wrapped.set(listener, actual);
      raw.on(event, actual);
    },
    off(event: string, listener: AnyListener) {
      raw.off(event, wrapped.get(listener) ?? listener);
      wrapped.delete(listener);
    },
    timeout(ms: number) {
      return {
        emitWithAck: async (name: CommandName, payload: unknown) => {
          const entry: SentCommand = { name, payload };
          sent.push(entry);
          entry.answer = await socket.timeout(ms).emitWithAck(name, payload);
          return entry.answer;
        },
      };
    },
  };
}

/**
 * A transport with no server behind it: the test says whether it is connected, sends it
 * server events, and answers commands through `answer` (return undefined to leave one
 * unanswered; it then times out as Socket.IO's would). Every command is recorded in `sent`.
 */
export class FakeTransport implements RealtimeTransport {
  connected = false;
  readonly sent: SentCommand[] = [];
  answer: (name: CommandName, payload: unknown) => Ack<unknown> | undefined = () => ({
    ok: true,
    data: null,
  });
  private readonly listeners = new Map<string, Set<AnyListener>>();

  on(event: string, listener: AnyListener): this {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return this;
  }

  off(event: string, listener: AnyListener): this {
    this.listeners.get(event)?.delete(listener);
    return this;
  }

  /** How many listeners `event` has (features must remove theirs). */
  listenerCount(event: keyof TransportEvents): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  /** Delivers a server event (or `connect`/`disconnect`) to the listeners. */
  emit<E extends keyof TransportEvents>(event: E, ...args: Parameters<TransportEvents[E]>): void {
    for (const listener of [...(this.listeners.get(event) ?? [])])
      (listener as (...a: unknown[]) => void)(...args);
  }

  connect(): void {
    this.connected = true;
    this.emit("connect");
  }

  disconnect(): void {
    this.connected = false;
    this.emit("disconnect", "transport close");
  }

  timeout(ms: number) {
    return {
      emitWithAck: (name: CommandName, payload: unknown): Promise<unknown> => {
        const entry: SentCommand = { name, payload };
        this.sent.push(entry);
        const answer = this.answer(name, payload);
        if (answer !== undefined) {
          entry.answer = answer;
          return Promise.resolve(answer);
        }
        return new Promise((_, reject) =>
          setTimeout(() => reject(new Error("operation has timed out")), ms),
        );
      },
    };
  }

  /** The commands sent so far with that name, oldest first. */
  commands(name: CommandName): SentCommand[] {
    return this.sent.filter((c) => c.name === name);
  }
}

/**
 * Resolves once `check()` holds, testing it now and whenever `subscribe`'s source says it
 * changed; rejects after `timeoutMs` saying what was awaited.
 */
export function until(
  subscribe: (listener: () => void) => () => void,
  check: () => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (check()) return resolve();
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`${what}: not within ${timeoutMs} ms`));
    }, timeoutMs);
    const stop = subscribe(() => {
      if (!check()) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}
