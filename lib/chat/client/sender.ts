import type { QueryClient } from "@tanstack/react-query";
import {
  CommandError,
  getSocket,
  type RealtimeTransport,
  sendCommand,
} from "@/lib/realtime/client";
import { upsertMessage } from "../cache";
import { updateMessages } from "./keys";
import { type Outbox, type OutboxItem, getOutbox } from "./outbox";

/**
 * Sends what is in the outbox, oldest first, whenever there is something to send and a
 * connection to send it on. A refused message is marked failed (the person sees `Not sent`
 * and `Retry`); one the server never answered stays pending and goes again on the next
 * connect, safely, since sends are idempotent. Only one tab flushes at a time (Web Locks).
 */
export class OutboxSender {
  private running = false;
  private rerun = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private users = 0;
  private stopListening: (() => void) | null = null;

  private readonly outbox: Outbox;
  private readonly transport: RealtimeTransport | undefined;

  /** `outbox` and `transport` default to the page's own (tests pass theirs). */
  constructor(
    private readonly queryClient: QueryClient,
    private readonly userId: string,
    options: { outbox?: Outbox; transport?: RealtimeTransport } = {},
  ) {
    this.outbox = options.outbox ?? getOutbox();
    this.transport = options.transport;
  }

  /** Made while rendering, on the server too: the shared socket is only opened when used. */
  private get socket(): RealtimeTransport {
    return this.transport ?? getSocket();
  }

  /** Starts flushing on every connect; returns a release. Counted, so nested users share it. */
  start(): () => void {
    if (this.users++ === 0) {
      const socket = this.socket;
      const onConnect = () => void this.flush();
      socket.on("connect", onConnect);
      void this.outbox.loaded.then(() => this.flush());
      this.stopListening = () => {
        socket.off("connect", onConnect);
        if (this.retryTimer) clearTimeout(this.retryTimer);
        this.retryTimer = null;
      };
    }
    return () => {
      if (--this.users === 0) this.stopListening?.();
    };
  }

  async send(item: Omit<OutboxItem, "status" | "createdAt" | "userId">): Promise<void> {
    // The outbox sends oldest first: two messages written within one millisecond must not
    // tie (IndexedDB returns ties in clientId order, which is random).
    const newest = this.outbox.pending(this.userId).at(-1)?.createdAt;
    const at = Math.max(Date.now(), newest ? Date.parse(newest) + 1 : 0);
    await this.outbox.put({
      ...item,
      userId: this.userId,
      status: "pending",
      createdAt: new Date(at).toISOString(),
    });
    void this.flush();
  }

  async retry(clientId: string): Promise<void> {
    await this.outbox.update(clientId, { status: "pending", error: undefined });
    void this.flush();
  }

  discard(clientId: string): Promise<void> {
    return this.outbox.remove(clientId);
  }

  async flush(): Promise<void> {
    if (this.running) {
      this.rerun = true;
      return;
    }
    this.running = true;
    try {
      do {
        this.rerun = false;
        await withLock(() => this.flushOnce());
      } while (this.rerun);
    } finally {
      this.running = false;
    }
  }

  private async flushOnce(): Promise<void> {
    for (const item of this.outbox.pending(this.userId)) {
      const socket = this.socket;
      if (!socket.connected) return;
      try {
        const message = await sendCommand(socket, "message.send", {
          roomId: item.roomId,
          clientId: item.clientId,
          body: item.body,
          replyToId: item.replyToId,
          attachmentIds: item.attachmentIds,
        });
        updateMessages(this.queryClient, item.roomId, (data) => upsertMessage(data, message));
        await this.outbox.remove(item.clientId);
      } catch (err) {
        if (err instanceof CommandError && !err.retryable) {
          await this.outbox.update(item.clientId, { status: "failed", error: err.message });
          continue;
        }
        // The server may or may not have it: keep it pending and try again shortly.
        this.scheduleRetry();
        return;
      }
    }
  }

  private scheduleRetry() {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.flush();
    }, 3000);
  }
}

async function withLock(fn: () => Promise<void>): Promise<void> {
  if (typeof navigator !== "undefined" && navigator.locks) {
    await navigator.locks.request("parley-outbox", fn);
  } else {
    await fn();
  }
}
