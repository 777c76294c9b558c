import { afterEach, describe, expect, it, vi } from "vitest";
import { activeTicks, every } from "../ticker";

describe("shared ticks", () => {
  afterEach(() => vi.useRealTimers());

  it("runs every task of a period on one timer, and stops the timer with the last task", () => {
    vi.useFakeTimers();
    const before = activeTicks();
    const runs: string[] = [];
    const cancelA = every(500, () => runs.push("a"));
    const cancelB = every(500, () => runs.push("b"));
    const cancelC = every(1_000, () => runs.push("c"));
    expect(activeTicks()).toBe(before + 2); // one per period, not one per task
    vi.advanceTimersByTime(1_000);
    expect([...runs].sort()).toEqual(["a", "a", "b", "b", "c"]);
    expect(runs.slice(0, 2)).toEqual(["a", "b"]); // in the order they joined
    cancelA();
    vi.advanceTimersByTime(500);
    expect(runs.slice(5)).toEqual(["b"]);
    cancelB();
    cancelC();
    expect(activeTicks()).toBe(before);
    vi.advanceTimersByTime(2_000);
    expect(runs).toHaveLength(6);
  });

  it("keeps running the other tasks when one throws, and a task may cancel itself", () => {
    vi.useFakeTimers();
    const runs: string[] = [];
    const cancelBad = every(50, () => {
      throw new Error("boom");
    });
    let cancelOnce: () => void = () => {};
    cancelOnce = every(50, () => {
      runs.push("once");
      cancelOnce();
    });
    const cancelGood = every(50, () => runs.push("good"));
    vi.advanceTimersByTime(150);
    expect(runs).toEqual(["once", "good", "good", "good"]);
    cancelBad();
    cancelGood();
    cancelOnce(); // cancelling twice is harmless
  });
});
