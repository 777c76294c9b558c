import { describe, expect, it } from "vitest";
import { type CallRoom, CallHost, type HostedCall } from "./host";
import { type CallSnapshot, initialSnapshot } from "./state";

/**
 * Who owns the calls: the host keeps the call you are in across room pages, gives each page
 * its room's call, and lets go of calls nobody holds. Fake calls record what was done to
 * them (the Call itself is tested in call.test.ts).
 */

class FakeCall implements HostedCall {
  attached = 0;
  disposed = false;
  private snapshot: CallSnapshot = initialSnapshot;
  private readonly listeners = new Set<() => void>();
  constructor(readonly room: CallRoom) {}
  attach = () => {
    this.attached++;
    this.disposed = false;
    return () => {
      this.attached--;
    };
  };
  dispose = () => {
    this.disposed = true;
    void this.leave();
  };
  join = () => {
    if (this.disposed || this.snapshot.status !== "idle") return;
    this.set("joining");
  };
  leave = async () => {
    if (this.snapshot.status !== "idle") this.set("idle");
  };
  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
  getSnapshot = () => this.snapshot;
  get status() {
    return this.snapshot.status;
  }
  private set(status: CallSnapshot["status"]) {
    this.snapshot = { ...this.snapshot, status };
    for (const listener of [...this.listeners]) listener();
  }
}

const roomA = { roomId: "a", slug: "room-a" };
const roomB = { roomId: "b", slug: "room-b" };

function setup() {
  const made: FakeCall[] = [];
  const host = new CallHost<FakeCall>((room) => {
    const call = new FakeCall(room);
    made.push(call);
    return call;
  });
  /** A room page: borrows its room's call while mounted. */
  const page = (room: CallRoom) => {
    const call = host.callFor(room);
    const release = host.hold(call);
    return { call, release };
  };
  return { host, made, page };
}

describe("CallHost", () => {
  it("keeps a joined call after its room page goes, and gives it back to that room's page", () => {
    const { host, page } = setup();
    const a = page(roomA);
    host.join(a.call);
    expect(host.getActive()).toBe(a.call);
    a.release(); // moved to another room
    expect(a.call.disposed).toBe(false);
    expect(a.call.attached).toBe(1);
    expect(a.call.status).toBe("joining");
    // Back in the room: the same call, not a new one.
    const again = page(roomA);
    expect(again.call).toBe(a.call);
    expect(a.call.attached).toBe(1);
  });

  it("lets go of a call only previewed when its page goes", () => {
    const { host, page } = setup();
    const a = page(roomA);
    expect(a.call.attached).toBe(1);
    a.release();
    expect(a.call.disposed).toBe(true);
    expect(a.call.attached).toBe(0);
    expect(host.getActive()).toBeNull();
  });

  it("gives another room's page a call of its own while you are in a call", () => {
    const { host, page } = setup();
    const a = page(roomA);
    host.join(a.call);
    const b = page(roomB);
    expect(b.call).not.toBe(a.call);
    expect(b.call.room).toEqual(roomB);
  });

  it("leaving from anywhere (the call bar) ends the call and lets go of it when no page shows it", () => {
    const { host, page } = setup();
    const a = page(roomA);
    host.join(a.call);
    a.release();
    let changes = 0;
    host.subscribe(() => changes++);
    void a.call.leave();
    expect(host.getActive()).toBeNull();
    expect(changes).toBe(1);
    expect(a.call.disposed).toBe(true);
    expect(a.call.attached).toBe(0);
  });

  it("leaving on the room page keeps the call for its lobby, and it can be joined again", () => {
    const { host, page } = setup();
    const a = page(roomA);
    host.join(a.call);
    void a.call.leave();
    expect(host.getActive()).toBeNull();
    expect(a.call.disposed).toBe(false);
    expect(a.call.attached).toBe(1);
    host.join(a.call);
    expect(host.getActive()).toBe(a.call);
    expect(a.call.status).toBe("joining");
  });

  it("joining another room's call leaves the one you were in first", () => {
    const { host, page } = setup();
    const a = page(roomA);
    host.join(a.call);
    a.release();
    const b = page(roomB);
    host.join(b.call);
    expect(a.call.status).toBe("idle");
    expect(a.call.disposed).toBe(true);
    expect(host.getActive()).toBe(b.call);
    expect(b.call.status).toBe("joining");
  });

  it("a refused join changes nothing", () => {
    const { host, page } = setup();
    const a = page(roomA);
    a.call.dispose();
    host.join(a.call);
    expect(host.getActive()).toBeNull();
  });

  it("end(room) leaves the active call only if it is that room's", () => {
    const { host, page } = setup();
    const a = page(roomA);
    host.join(a.call);
    host.end(roomB.roomId);
    expect(a.call.status).toBe("joining");
    host.end(roomA.roomId);
    expect(a.call.status).toBe("idle");
    expect(host.getActive()).toBeNull();
  });

  it("ends the call when its room, once listed, leaves your rooms — not before it is listed", () => {
    const { host, page } = setup();
    const a = page(roomA);
    host.join(a.call);
    // Joined by its link: the list has not caught up yet.
    host.roomsChanged([roomB.roomId]);
    expect(a.call.status).toBe("joining");
    host.roomsChanged([roomA.roomId, roomB.roomId]);
    expect(a.call.status).toBe("joining");
    // Left or removed (in any tab).
    host.roomsChanged([roomB.roomId]);
    expect(a.call.status).toBe("idle");
    expect(host.getActive()).toBeNull();
  });

  it("dispose leaves the call and releases every call", () => {
    const { host, page, made } = setup();
    const a = page(roomA);
    host.join(a.call);
    page(roomB);
    host.dispose();
    expect(made.every((call) => call.disposed && call.attached === 0)).toBe(true);
    expect(a.call.status).toBe("idle");
    expect(host.getActive()).toBeNull();
  });
});
