import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { HEAP_GROWING_PERCENT } from "../heap";

describe("the SFU's heap setting", () => {
  it("names a flag this Node's V8 has, with the meaning sfu/heap.ts relies on", () => {
    // setFlagsFromString ignores a flag V8 does not know: were it renamed, the media workers
    // would silently go back to a full collection a second (docs/sfu.md).
    const options = execFileSync(process.execPath, ["--v8-options"], { encoding: "utf8" });
    const line = options.split("\n").find((l) => l.trim().startsWith("--heap-growing-percent "));
    expect(line).toMatch(/heap growing factor as \(1 \+ heap_growing_percent\/100\)/);
    expect(HEAP_GROWING_PERCENT).toBeGreaterThan(0);
  });
});
