import { afterEach, describe, expect, it, vi } from "vitest";
import { ActiveSpeaker } from "../active-speaker";
import { activeTicks } from "../ticker";

describe("active speaker", () => {
  afterEach(() => vi.useRealTimers());

  it("picks the loudest who leads a whole interval, and keeps the last one through silence", () => {
    vi.useFakeTimers();
    const speaker = new ActiveSpeaker();
    const changes: (string | null)[] = [];
    speaker.on("changed", (peerId) => changes.push(peerId));
    for (let i = 0; i < 10; i++) {
      speaker.report("ada", 30); // -30 dBov: speaking
      speaker.report("grace", 90); // below the speech threshold
    }
    vi.advanceTimersByTime(300);
    expect(changes).toEqual(["ada"]);
    for (let i = 0; i < 10; i++) {
      speaker.report("ada", 50);
      speaker.report("grace", 20);
    }
    vi.advanceTimersByTime(300);
    expect(changes).toEqual(["ada", "grace"]);
    for (let i = 0; i < 10; i++) speaker.report("grace", 127); // silence
    vi.advanceTimersByTime(300);
    expect(changes).toEqual(["ada", "grace"]);
    speaker.close();
  });

  it("is on the shared tick only while levels arrive", () => {
    vi.useFakeTimers();
    const before = activeTicks();
    const speaker = new ActiveSpeaker();
    const changes: (string | null)[] = [];
    speaker.on("changed", (peerId) => changes.push(peerId));
    expect(activeTicks()).toBe(before); // a room with no audio wakes nobody
    speaker.report("ada", 30);
    expect(activeTicks()).toBe(before + 1);
    vi.advanceTimersByTime(300);
    expect(changes).toEqual(["ada"]);
    vi.advanceTimersByTime(300); // a whole interval without a level: off the tick
    expect(activeTicks()).toBe(before);
    speaker.report("grace", 20); // audio again: back on it, and decisions resume
    expect(activeTicks()).toBe(before + 1);
    vi.advanceTimersByTime(300);
    expect(changes).toEqual(["ada", "grace"]);
    speaker.close();
    expect(activeTicks()).toBe(before);
  });
});
