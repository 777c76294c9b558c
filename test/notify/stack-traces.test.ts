import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { withoutStackTraces } from "@/lib/notify/push-worker";

describe("the push worker's encryption without stack traces", () => {
  it("returns what the function returns, and errors made meanwhile carry no stack frames", () => {
    const before = Error.stackTraceLimit;
    const key = Buffer.alloc(32, 7);
    const mac = withoutStackTraces(() => createHmac("sha256", key).update("x").digest("hex"));
    expect(mac).toBe(createHmac("sha256", key).update("x").digest("hex"));
    const inside = withoutStackTraces(() => new Error("inside"));
    expect(inside.stack?.split("\n")).toEqual(["Error: inside"]);
    expect(new Error("outside").stack?.split("\n").length).toBeGreaterThan(1);
    expect(Error.stackTraceLimit).toBe(before);
  });

  it("restores the limit when the function throws, and the error keeps its message", () => {
    const before = Error.stackTraceLimit;
    expect(() =>
      withoutStackTraces(() => {
        throw new TypeError("bad subscription key");
      }),
    ).toThrow("bad subscription key");
    expect(Error.stackTraceLimit).toBe(before);
  });
});
