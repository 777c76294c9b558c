import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { COMMAND_TIMEOUT_MS } from "@/lib/realtime/client";
import type { Participant } from "@/sfu/protocol";
import { FakeTransport, until } from "@/test/support/client-transport";
import { Call, type CallSessionLike, type OpenSession } from "./call";
import type { SourceWish } from "./publisher";
import type { JoinResult, SessionHandlers } from "./session";
import type { CallStatus } from "./state";
import { TicketError } from "./ticket";

/**
 * The Call's own logic, without a browser: joining, leaving, resuming and rejoining, and
 * what it tells the web node, over a fake web-node socket and fake SFU sessions (the
 * sessions themselves are tested against a real SFU in sfu/test and e2e/).
 */

type Wishes = Record<"mic" | "camera" | "screen" | "screen-audio", SourceWish>;

class FakeSession implements CallSessionLike {
  closed = false;
  left = false;
  /** What the Call asked the publisher to send, each time. */
  readonly updates: Wishes[] = [];
  private readonly listeners = new Set<() => void>();
  readonly publisher = {
    update: async (wishes: Wishes) => {
      this.updates.push(wishes);
      this.changed();
    },
  };
  close(): void {
    this.closed = true;
    this.changed();
  }
  async leave(): Promise<void> {
    this.left = true;
    this.close();
  }
  /** Calls `listener` after every update and on closing; returns the undo. */
  watch = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
  private changed(): void {
    for (const listener of [...this.listeners]) listener();
  }
  setTileSize(): void {}
  forgetTile(): void {}
  receivedStats(): Promise<RTCStatsReport> {
    return Promise.reject(new Error("no stats in a fake"));
  }
}

/** One attempt of the Call to open a session: the test answers it. */
interface Opening {
  slug: string;
  handlers: SessionHandlers;
  session: FakeSession;
  resolve(joined: JoinResult): void;
  reject(err: Error): void;
}

/** The SFU side: records each attempt to open a session and lets the test answer it. */
class FakeSfu {
  readonly openings: Opening[] = [];
  private waiting: ((o: Opening) => void)[] = [];

  open: OpenSession = (slug, handlers) =>
    new Promise((resolve, reject) => {
      const session = new FakeSession();
      const opening: Opening = {
        slug,
        handlers,
        session,
        resolve: (joined) => resolve({ session, joined }),
        reject,
      };
      this.openings.push(opening);
      for (const w of this.waiting.splice(0)) w(opening);
    });

  /** The attempt number `n` (from 0), once the Call has made it. */
  attempt(n: number): Promise<Opening> {
    const made = this.openings[n];
    if (made) return Promise.resolve(made);
    return new Promise((resolve) => {
      const wait = () => {
        const o = this.openings[n];
        if (o) resolve(o);
        else this.waiting.push(wait);
      };
      this.waiting.push(wait);
    });
  }
}

const room = { roomId: "00000000-0000-4000-8000-000000000001", slug: "the-room" };
const grace: Participant = { peerId: "p-grace", userId: "u-grace", displayName: "Grace" };
const lin: Participant = { peerId: "p-lin", userId: "u-lin", displayName: "Lin" };

function joined(selfPeerId: string, others: Participant[]): JoinResult {
  return {
    self: { peerId: selfPeerId, userId: "u-me", displayName: "Me", mayPublish: true },
    participants: others,
    tracks: [],
    resumeToken: "resume-token",
  };
}

describe("Call", () => {
  let transport: FakeTransport;
  let sfu: FakeSfu;
  let call: Call;
  let detach: () => void;
  let online: boolean;
  const windowEvents = new EventTarget();
  const warnings: string[] = [];

  beforeEach(async () => {
    // What the Call reads of the browser: the window's online/offline events and
    // navigator.onLine. No media devices: listing them fails, which the Call tolerates.
    online = true;
    vi.stubGlobal("window", windowEvents);
    vi.stubGlobal("navigator", {
      get onLine() {
        return online;
      },
    });
    vi.spyOn(console, "warn").mockImplementation((message: string) => warnings.push(message));
    warnings.length = 0;
    transport = new FakeTransport();
    transport.connect();
    sfu = new FakeSfu();
    call = new Call(room, { transport, openSession: sfu.open });
    detach = call.attach();
    // No camera or microphone in Node: join without them.
    await call.setMicrophone(false);
    await call.setCamera(false);
  });

  afterEach(() => {
    detach();
    call.dispose();
    vi.useRealTimers();
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  const status = () => call.getSnapshot().status;
  const statusBecomes = (want: CallStatus) =>
    until(call.subscribe, () => status() === want, `status ${want}`);
  const rosterCommands = (name: "call.join" | "call.leave") =>
    transport.commands(name).map((c) => c.payload);

  /** Joins and answers the first session: the Call is in, with Grace there. */
  async function joinWithGrace(): Promise<Opening> {
    call.join();
    const first = await sfu.attempt(0);
    first.resolve(joined("p-me", [grace]));
    await statusBecomes("joined");
    return first;
  }

  it("joins: Joining, then Joined with who is there; tells the web node and publishes", async () => {
    call.join();
    expect(status()).toBe("joining");
    const first = await sfu.attempt(0);
    expect(first.slug).toBe(room.slug);
    first.resolve(joined("p-me", [grace]));
    await statusBecomes("joined");
    expect(call.getSnapshot()).toMatchObject({
      selfPeerId: "p-me",
      participants: [{ ...grace, tracks: [] }],
      error: null,
    });
    expect(rosterCommands("call.join")).toEqual([
      { roomId: room.roomId, session: expect.stringMatching(/^[0-9a-f-]{36}$/) },
    ]);
    // Devices off: nothing is sent, but the publisher is told so.
    await until(first.session.watch, () => first.session.updates.length > 0, "publishing");
    expect(first.session.updates[0]).toEqual({
      mic: { publish: false, track: null },
      camera: { publish: false, track: null },
      screen: { publish: false, track: null },
      "screen-audio": { publish: false, track: null },
    });
  });

  it("tells the web node again after its socket reconnects, and stops after leaving", async () => {
    const first = await joinWithGrace();
    transport.disconnect();
    transport.connect();
    expect(rosterCommands("call.join")).toHaveLength(2);

    await call.leave();
    expect(call.getSnapshot()).toMatchObject({
      status: "idle",
      participants: [],
      selfPeerId: null,
    });
    expect(first.session.left).toBe(true);
    // The leave names the session it ends (a late one cannot end a newer: call-handlers.ts).
    const [join1, rejoin1] = rosterCommands("call.join");
    expect(rejoin1).toEqual(join1);
    expect(rosterCommands("call.leave")).toEqual([join1]);
    // Out of the call, a reconnect says nothing (the listener runs synchronously).
    transport.disconnect();
    transport.connect();
    expect(rosterCommands("call.join")).toHaveLength(2);
    // Joining again is another session.
    call.join();
    (await sfu.attempt(1)).resolve(joined("p-me-2", [grace]));
    await statusBecomes("joined");
    const join2 = rosterCommands("call.join")[2];
    expect(join2).toEqual({ roomId: room.roomId, session: expect.any(String) });
    expect(join2).not.toEqual(join1);
    detach();
    expect(transport.listenerCount("connect")).toBe(0);
  });

  it("shows Reconnecting while the session resumes, then the state the SFU answers", async () => {
    const first = await joinWithGrace();
    first.handlers.event("activeSpeaker", { peerId: "p-grace" });
    expect(call.getSnapshot().activeSpeaker).toBe("p-grace");
    first.handlers.reconnecting();
    expect(call.getSnapshot()).toMatchObject({ status: "reconnecting", activeSpeaker: null });
    // Events sent meanwhile were lost; the answer to `resume` is what is true now.
    first.handlers.resumed(joined("p-me", [grace, lin]));
    expect(call.getSnapshot()).toMatchObject({
      status: "joined",
      participants: [
        { ...grace, tracks: [] },
        { ...lin, tracks: [] },
      ],
    });
    // Resumed in place: the same session, no new one.
    expect(sfu.openings).toHaveLength(1);
    expect(first.session.closed).toBe(false);
  });

  it("opens a new session when one is lost, and ignores the old one from then on", async () => {
    const first = await joinWithGrace();
    first.handlers.lost("media connection lost");
    expect(status()).toBe("reconnecting");
    expect(first.session.closed).toBe(true);
    const second = await sfu.attempt(1);
    second.resolve(joined("p-me-2", [grace]));
    await statusBecomes("joined");
    expect(call.getSnapshot().selfPeerId).toBe("p-me-2");
    expect(rosterCommands("call.join")).toHaveLength(2);

    // Late news from the first session changes nothing.
    first.handlers.event("participantJoined", { participant: lin });
    first.handlers.reconnecting();
    first.handlers.lost("late");
    expect(call.getSnapshot()).toMatchObject({
      status: "joined",
      participants: [{ ...grace, tracks: [] }],
    });
    expect(sfu.openings).toHaveLength(2);
    expect(second.session.closed).toBe(false);
    // The new one's news does.
    second.handlers.event("participantJoined", { participant: lin });
    expect(call.getSnapshot().participants.map((p) => p.displayName)).toEqual(["Grace", "Lin"]);
  });

  it("leaving while a session is still opening closes it when it comes, and stays out", async () => {
    call.join();
    const first = await sfu.attempt(0);
    await call.leave();
    expect(status()).toBe("idle");
    first.resolve(joined("p-me", [grace]));
    await until(first.session.watch, () => first.session.closed, "the late session is closed");
    expect(call.getSnapshot()).toMatchObject({ status: "idle", participants: [] });
    expect(rosterCommands("call.join")).toEqual([]);
  });

  it("retries a failure that may pass, and gives up with the reason on a refused ticket", async () => {
    call.join();
    (await sfu.attempt(0)).reject(new TicketError("Can't reach the server", true));
    // Tried again after a short wait, still Joining.
    const second = await sfu.attempt(1);
    expect(status()).toBe("joining");
    second.reject(new TicketError("You are not a member of this room", false));
    await statusBecomes("idle");
    expect(call.getSnapshot().error).toBe("You are not a member of this room");
    expect(sfu.openings).toHaveLength(2);
    expect(rosterCommands("call.join")).toEqual([]);
  });

  it("rejoins when the browser goes offline, waiting for the network to come back", async () => {
    const first = await joinWithGrace();
    online = false;
    window.dispatchEvent(new Event("offline"));
    expect(status()).toBe("reconnecting");
    expect(first.session.closed).toBe(true);
    // Offline, the Call waits for `online` before trying (checked synchronously on entry).
    expect(sfu.openings).toHaveLength(1);
    online = true;
    window.dispatchEvent(new Event("online"));
    const second = await sfu.attempt(1);
    second.resolve(joined("p-me-2", [grace]));
    await statusBecomes("joined");
  });

  it("stays in the call when the web node does not answer call.join in time", async () => {
    await joinWithGrace();
    vi.useFakeTimers();
    transport.answer = () => undefined;
    transport.disconnect();
    transport.connect();
    expect(rosterCommands("call.join")).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(COMMAND_TIMEOUT_MS);
    expect(warnings.at(-1)).toMatch(/call\.join failed: CommandError: No answer from the server/);
    expect(status()).toBe("joined");
    // The next reconnect tells it again.
    transport.answer = () => ({ ok: true, data: { roomId: room.roomId, participants: [] } });
    transport.disconnect();
    transport.connect();
    expect(rosterCommands("call.join")).toHaveLength(3);
  });
});
