import { describe, expect, it } from "vitest";
import { safeReturnPath } from "./redirect";

/** What a browser does with a Location header: resolve it against the page it is on. */
const followedFrom = (location: string) => new URL(location, "https://parley.example/signin");

describe("safeReturnPath", () => {
  it("keeps a same-origin path with its query and hash", () => {
    expect(safeReturnPath("/r/abc-def?invite=x#m1")).toBe("/r/abc-def?invite=x#m1");
    expect(safeReturnPath("/")).toBe("/");
    expect(safeReturnPath(undefined)).toBe("/");
    expect(safeReturnPath("")).toBe("/");
  });

  it("keeps an absolute URL on this host as its path, and drops one on any other", () => {
    expect(safeReturnPath("https://parley.example/r/x?y=1", "parley.example")).toBe("/r/x?y=1");
    expect(safeReturnPath("https://evil.example/r/x", "parley.example")).toBe("/");
    expect(safeReturnPath("https://parley.example/r/x")).toBe("/");
    expect(safeReturnPath("javascript:alert(1)", "parley.example")).toBe("/");
    expect(safeReturnPath("data:text/html,<script>", "parley.example")).toBe("/");
  });

  it.each([
    "/\t/evil.example", // callbackUrl=/%09/evil.example
    "/\n/evil.example", // callbackUrl=/%0A/evil.example (was a 500)
    "/\r\n/evil.example",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\\/evil.example",
    " //evil.example",
    "///evil.example",
    "/.//evil.example",
    "/x/..//evil.example",
    "https:evil.example",
    "http://evil.example",
    "HTTPS://evil.example/%2F..",
  ])("never leaves the origin: %j", (raw) => {
    const location = safeReturnPath(raw, "parley.example");
    expect(location).toMatch(/^\/(?![/\\])[\x21-\x7e]*$/);
    expect(followedFrom(location).origin).toBe("https://parley.example");
  });

  it("holds for random input: a printable same-origin path, never an error", () => {
    const alphabet = [
      "/",
      "\\",
      "\t",
      "\n",
      "\r",
      " ",
      ".",
      ":",
      "%",
      "@",
      "?",
      "#",
      "e",
      "é",
      "\u0000",
      "\u2028",
    ];
    let seed = 1;
    const random = () => (seed = (seed * 48271) % 2147483647);
    for (let i = 0; i < 5000; i++) {
      const raw = Array.from(
        { length: 1 + (random() % 12) },
        () => alphabet[random() % alphabet.length],
      ).join("");
      const location = safeReturnPath(raw, "parley.example");
      expect(location).toMatch(/^\/(?![/\\])[\x21-\x7e]*$/);
      expect(followedFrom(location).origin).toBe("https://parley.example");
    }
  });
});
