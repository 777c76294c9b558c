import type { QueryClient } from "@tanstack/react-query";
import { getSocket, type RealtimeTransport, sendCommand } from "@/lib/realtime/client";
import type { Participant } from "@/lib/realtime/protocol";
import { applyEvents } from "../cache";
import type { RoomEvent } from "../schemas";
import { updateMessages } from "./keys";

/**
 * Keeps one room's message cache equal to the server's log (docs/architecture.md, "Chat
 * delivery"). It holds `lastSeq`, the highest seq applied. A live event with the next seq
 * is applied at once; one that skips ahead means events were missed, so it asks the
 * server for everything after lastSeq. Every (re)connect re-subscribes and catches up the
 * same way, so a dropped connection loses nothing and duplicates nothing.
 */
export interface RoomSyncCallbacks {
  onPresence(participants: Participant[]): void;
  onTyping(userId: string, displayName: string): void;
  onRenamed(name: string): void;
  onError(message: string | null): void;
  /** Events just applied (live or caught up; a replay after `setBaseline` may repeat some). */
  onEvents?(events: RoomEvent[]): void;
}

export class RoomSync {
  private lastSeq: number | null = null;
  /** A baseline to go back to, taken at the next step of catching up (not under one). */
  private rewindTo: number | null = null;
  private catchingUp: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly detach: Array<() => void> = [];

  constructor(
    private readonly queryClient: QueryClient,
    private readonly roomId: string,
    private readonly callbacks: RoomSyncCallbacks,
    /** The connection to the web node: the page's shared socket unless a test passes its own. */
    private readonly transport: RealtimeTransport = getSocket(),
  ) {}

  start(): void {
    const socket = this.transport;
    const onConnect = () => void this.subscribe();
    const onEvent = (event: RoomEvent) => {
      if (event.roomId === this.roomId) this.receive(event);
    };
    const onPresence = (p: { roomId: string; participants: Participant[] }) => {
      if (p.roomId === this.roomId) this.callbacks.onPresence(p.participants);
    };
    const onTyping = (t: { roomId: string; userId: string; displayName: string }) => {
      if (t.roomId === this.roomId) this.callbacks.onTyping(t.userId, t.displayName);
    };
    socket.on("connect", onConnect);
    socket.on("room.event", onEvent);
    socket.on("presence", onPresence);
    socket.on("typing", onTyping);
    this.detach.push(
      () => socket.off("connect", onConnect),
      () => socket.off("room.event", onEvent),
      () => socket.off("presence", onPresence),
      () => socket.off("typing", onTyping),
    );
    if (socket.connected) void this.subscribe();
  }

  stop(): void {
    this.stopped = true;
    for (const off of this.detach.splice(0)) off();
    if (this.transport.connected) {
      sendCommand(this.transport, "room.unsubscribe", { roomId: this.roomId }).catch(
        () => undefined,
      );
    }
  }

  /**
   * The cache now holds a page read when the room's log was at `lastSeq` (the first page,
   * or a new window: a newer page that reaches the live end, "Jump to latest", another
   * message opened): everything after it is applied, again if need be — applying is
   * idempotent, and events for messages outside a window that is not live were left out.
   */
  setBaseline(lastSeq: number): void {
    if (this.lastSeq === null) this.lastSeq = lastSeq;
    else this.rewindTo = Math.min(this.rewindTo ?? lastSeq, lastSeq);
    void this.catchUp();
  }

  /** The highest seq applied: the room as far as this page knows it. */
  get appliedSeq(): number {
    return this.lastSeq ?? 0;
  }

  private async subscribe(): Promise<void> {
    try {
      const { participants } = await sendCommand(this.transport, "room.subscribe", {
        roomId: this.roomId,
      });
      if (this.stopped) return;
      this.callbacks.onPresence(participants);
      this.callbacks.onError(null);
      await this.catchUp();
    } catch (err) {
      this.callbacks.onError(err instanceof Error ? err.message : String(err));
    }
  }

  private receive(event: RoomEvent): void {
    if (this.lastSeq === null || event.seq <= this.lastSeq) return;
    if (event.seq === this.lastSeq + 1 && !this.catchingUp) {
      this.apply([event]);
      this.lastSeq = event.seq;
    } else {
      void this.catchUp();
    }
  }

  /** Fetches and applies everything after lastSeq; one run at a time, re-run if asked meanwhile. */
  catchUp(): Promise<void> {
    if (this.catchingUp) {
      this.again = true;
      return this.catchingUp;
    }
    this.catchingUp = (async () => {
      try {
        do {
          this.again = false;
          let hasMore = true;
          while ((hasMore || this.rewindTo !== null) && this.lastSeq !== null && !this.stopped) {
            if (this.rewindTo !== null) {
              this.lastSeq = Math.min(this.lastSeq, this.rewindTo);
              this.rewindTo = null;
            }
            const page = await sendCommand(this.transport, "room.sync", {
              roomId: this.roomId,
              afterSeq: this.lastSeq,
            });
            this.apply(page.events);
            this.lastSeq = Math.max(this.lastSeq, page.throughSeq);
            hasMore = page.hasMore;
          }
        } while (this.again && !this.stopped);
      } catch {
        // Offline or refused: the next connect or live event tries again.
      } finally {
        this.catchingUp = null;
      }
    })();
    return this.catchingUp;
  }

  private apply(events: RoomEvent[]): void {
    if (events.length === 0) return;
    for (const event of events) {
      if (event.type === "room.renamed") this.callbacks.onRenamed(event.name);
    }
    updateMessages(this.queryClient, this.roomId, (data) => applyEvents(data, events));
    this.callbacks.onEvents?.(events);
  }
}
