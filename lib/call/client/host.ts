/**
 * Who owns the calls of a signed-in page: one CallHost lives in the shell (made by
 * `CallHostProvider`, components/call/CallHostProvider.tsx) and outlives every room page, so
 * the call you are in goes on while you read other rooms, search or change settings.
 *
 * - A room page borrows the Call of its room (`callFor` + `hold`): the active call when it
 *   is that room's, else a fresh idle one for the lobby and preview. Giving it back
 *   (`release`) ends it only if nothing else holds it.
 * - `join` makes a call the active one — the page's one call, as in Discord: joining
 *   another room's call leaves the one you were in first. The host holds the active call
 *   itself until it is idle again (left, or refused), so leaving the room page keeps it.
 * - `end(roomId)` leaves the active call if it is that room's (you left the room or were
 *   removed from it); `roomsChanged` does it when the room leaves your list.
 *
 * Framework-free like the Call (React reads it through `subscribe`/`getSnapshot`). Design:
 * docs/calls.md, "Who owns the call".
 */
import { Call } from "./call";

/** The room a call belongs to. */
export interface CallRoom {
  roomId: string;
  slug: string;
}

/** What the host uses of a Call (tests pass fakes). */
export type HostedCall = Pick<
  Call,
  "attach" | "dispose" | "join" | "leave" | "subscribe" | "getSnapshot"
> & { readonly room: CallRoom };

export class CallHost<C extends HostedCall = Call> {
  private active: C | null = null;
  /** Every call in use: how many hold it (room pages, and the host for the active one). */
  private readonly held = new Map<C, { holders: number; detach: () => void }>();
  private readonly listeners = new Set<() => void>();
  private unwatchActive: (() => void) | null = null;
  /** The active call once its room was seen in your list of rooms. */
  private listed: C | null = null;

  constructor(private readonly make: (room: CallRoom) => C) {}

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** The call you are in (joining, joined or reconnecting), or null. */
  getActive = (): C | null => this.active;

  /**
   * The Call a room page shows: the active call if it is this room's, else a new idle one.
   * Side-effect free (it runs while rendering); `hold` starts using it.
   */
  callFor(room: CallRoom): C {
    const active = this.active;
    if (active && active.room.roomId === room.roomId) return active;
    return this.make(room);
  }

  /** Starts using `call` (attached while anyone holds it); returns the release. */
  hold(call: C): () => void {
    const entry = this.held.get(call);
    if (entry) entry.holders++;
    else this.held.set(call, { holders: 1, detach: call.attach() });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.release(call);
    };
  }

  /**
   * Joins `call` (which the caller holds) and makes it the active call; the call you were in
   * before, in another room, is left first.
   */
  join(call: C): void {
    const previous = this.active;
    if (previous && previous !== call) void previous.leave();
    call.join();
    // Refused (disposed, or already in it): nothing changes.
    if (call.getSnapshot().status === "idle" || this.active === call) return;
    this.active = call;
    const releaseActive = this.hold(call);
    const unsubscribe = call.subscribe(() => {
      if (call.getSnapshot().status !== "idle") return;
      // Left (here, from the call bar, or refused for good): the host lets go of it.
      this.unwatchActive?.();
    });
    this.unwatchActive = () => {
      this.unwatchActive = null;
      unsubscribe();
      if (this.active === call) this.active = null;
      releaseActive();
      this.changed();
    };
    this.changed();
  }

  /** Leaves the active call if it is `roomId`'s (you left the room or were removed). */
  end(roomId: string): void {
    if (this.active?.room.roomId === roomId) void this.active.leave();
  }

  /**
   * Your rooms now (the shell's live list). The active call ends once its room, seen in the
   * list since joining, is gone from it: you left the room or were removed, in any tab. A
   * room not listed yet (just joined by its link) is not taken for one you left.
   */
  roomsChanged(roomIds: readonly string[]): void {
    const active = this.active;
    if (!active) return;
    if (roomIds.includes(active.room.roomId)) this.listed = active;
    else if (this.listed === active) this.end(active.room.roomId);
  }

  /** Leaves the active call and lets go of every call (the shell goes away). */
  dispose(): void {
    void this.active?.leave();
    this.unwatchActive?.();
    for (const [call, entry] of [...this.held]) {
      this.held.delete(call);
      entry.detach();
      call.dispose();
    }
  }

  private release(call: C): void {
    const entry = this.held.get(call);
    if (!entry) return;
    entry.holders--;
    if (entry.holders > 0) return;
    this.held.delete(call);
    entry.detach();
    call.dispose();
  }

  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** The shell's host of real calls. */
export function createCallHost(): CallHost {
  return new CallHost((room) => new Call(room));
}
