import { getSocket, type RealtimeTransport, sendCommand } from "@/lib/realtime/client";
import type { CallRoster } from "@/lib/realtime/protocol";
import type { ReadPosition, RoomActivity, RoomSummary } from "./schemas";

/**
 * Keeps a list of your rooms — names, order, unread counts — equal to the server's, the way
 * RoomSync keeps a room's messages (docs/architecture.md, "Lists of rooms"). Each room holds
 * `lastSeq`, the seq of its log the summary reflects. A `room.activity` with the next seq
 * is applied at once (a message from someone else after your read position is one more
 * unread); an older one is already counted; one that skips ahead means something was
 * missed, so the list re-watches. `rooms.watch` joins the rooms' activity first and reads
 * their summaries after, so its answer plus the live events after it miss nothing; it runs
 * on every (re)connect, on `rooms.changed` (a room made, joined or left anywhere) and on a
 * gap. A `read.updated` carries the count as of a seq: applied when it is the seq the list
 * holds, else re-watched. A room's call (`callCount`) is no part of its log: the watch
 * answers it, and each `call.roster` (to the room's watchers too) replaces it — a roster
 * is the whole call, so the last one is right, and the count is never added to.
 * Framework-free: one per page (components/rooms/RoomListProvider.tsx), read with
 * `rooms()` and `subscribe`.
 */
export class RoomListSync {
  private list: RoomSummary[];
  private watching: Promise<void> | null = null;
  private again = false;
  /** What arrived while a watch was in flight, applied after its answer. */
  private held: Array<() => void> = [];
  private stopped = false;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private readonly listeners = new Set<() => void>();
  private readonly detach: Array<() => void> = [];
  private transport: RealtimeTransport | null = null;

  /** `connect` makes the transport when the list starts (the page's socket by default, never on the server). */
  constructor(
    private readonly meId: string,
    initial: RoomSummary[],
    private readonly connect: () => RealtimeTransport = getSocket,
  ) {
    this.list = initial;
  }

  /** The rooms, most recently active first (a new array after every change). */
  rooms = (): RoomSummary[] => this.list;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  start(): void {
    this.stopped = false;
    const t = (this.transport ??= this.connect());
    const onConnect = () => void this.watch();
    const onActivity = (a: RoomActivity) => this.whenWatched(() => this.receive(a));
    const onRead = (r: ReadPosition) => this.whenWatched(() => this.receiveRead(r));
    const onChanged = () => void this.watch();
    const onRoster = (r: CallRoster) => this.whenWatched(() => this.receiveRoster(r));
    t.on("connect", onConnect);
    t.on("call.roster", onRoster);
    t.on("room.activity", onActivity);
    t.on("read.updated", onRead);
    t.on("rooms.changed", onChanged);
    this.detach.push(
      () => t.off("connect", onConnect),
      () => t.off("room.activity", onActivity),
      () => t.off("read.updated", onRead),
      () => t.off("rooms.changed", onChanged),
      () => t.off("call.roster", onRoster),
    );
    if (t.connected) void this.watch();
  }

  stop(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    for (const off of this.detach.splice(0)) off();
  }

  /** Watches your rooms and takes their summaries; one run at a time, re-run if asked meanwhile. */
  watch(): Promise<void> {
    if (this.watching) {
      this.again = true;
      return this.watching;
    }
    this.watching = (async () => {
      try {
        do {
          this.again = false;
          if (!this.transport) return;
          const { rooms } = await sendCommand(this.transport, "rooms.watch", {});
          if (this.stopped) return;
          this.set(rooms);
          // Live events that came meanwhile: those the answer covers are ignored by seq.
          for (const apply of this.held.splice(0)) apply();
        } while (this.again && !this.stopped);
      } catch {
        // Offline: the next connect watches again. Refused or timed out: try again shortly.
        this.held = [];
        if (this.transport?.connected && !this.stopped) {
          this.retry = setTimeout(() => void this.watch(), 2000);
        }
      } finally {
        this.watching = null;
      }
    })();
    return this.watching;
  }

  private whenWatched(apply: () => void): void {
    if (this.watching) this.held.push(apply);
    else apply();
  }

  private receive(a: RoomActivity): void {
    const room = this.list.find((r) => r.id === a.roomId);
    if (!room || a.seq <= room.lastSeq) return;
    if (a.seq !== room.lastSeq + 1) {
      void this.watch();
      return;
    }
    const next: RoomSummary = { ...room, lastSeq: a.seq };
    const others = (authorId: string) => authorId !== this.meId;
    switch (a.type) {
      case "message.created":
        if (others(a.authorId) && a.seq > room.lastReadSeq) {
          next.unreadCount += 1;
          if (a.mentionsRoom || a.mentions.includes(this.meId)) next.mentionCount += 1;
        }
        next.lastMessageAt = a.createdAt;
        // The most recently active room comes first.
        this.set([next, ...this.list.filter((r) => r.id !== a.roomId)]);
        return;
      case "message.deleted":
        if (others(a.authorId) && a.messageSeq > room.lastReadSeq) {
          next.unreadCount = Math.max(0, next.unreadCount - 1);
        }
        break;
      case "room.renamed":
        next.name = a.name;
        break;
      case "message.edited":
      case "reaction.changed":
        break;
    }
    this.replace(next);
  }

  private receiveRead(r: ReadPosition): void {
    const room = this.list.find((x) => x.id === r.roomId);
    if (!room) return;
    if (r.seq !== room.lastSeq) {
      // Counted at another point of the log than the list holds: ask for both at once.
      void this.watch();
      return;
    }
    if (r.lastReadSeq < room.lastReadSeq) return;
    // Mentions are among the unread: none left when nothing is, never more than there are.
    const mentionCount = Math.min(room.mentionCount, r.unreadCount);
    this.replace({ ...room, lastReadSeq: r.lastReadSeq, unreadCount: r.unreadCount, mentionCount });
  }

  private receiveRoster(r: CallRoster): void {
    const room = this.list.find((x) => x.id === r.roomId);
    if (!room || room.callCount === r.participants.length) return;
    this.replace({ ...room, callCount: r.participants.length });
  }

  private replace(room: RoomSummary): void {
    this.set(this.list.map((r) => (r.id === room.id ? room : r)));
  }

  private set(list: RoomSummary[]): void {
    this.list = list;
    for (const listener of this.listeners) listener();
  }
}
