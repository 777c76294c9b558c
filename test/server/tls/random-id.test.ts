import { afterEach, describe, expect, it, vi } from "vitest";
import { randomId } from "@/lib/random-id";

describe("randomId", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("makes a version-4 UUID also where crypto.randomUUID is missing (plain HTTP pages)", () => {
    const v4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    expect(randomId()).toMatch(v4);
    vi.stubGlobal("crypto", {
      getRandomValues: globalThis.crypto.getRandomValues.bind(globalThis.crypto),
    });
    const ids = new Set(Array.from({ length: 100 }, () => randomId()));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(v4);
  });
});
