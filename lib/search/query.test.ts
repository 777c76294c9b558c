import { describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import { nextDay, parseSearch, startOfDay } from "./query";

describe("the search language", () => {
  it("takes filters out and leaves the words, phrases and exclusions as written", () => {
    expect(
      parseSearch('budget "next quarter" -draft in:general from:"Ada Lovelace" has:file or plan'),
    ).toEqual({
      text: 'budget "next quarter" -draft or plan',
      rooms: ["general"],
      from: ["Ada Lovelace"],
      hasFile: true,
      before: null,
      after: null,
    });
    expect(parseSearch("in:#design from:@bob FROM:me").rooms).toEqual(["design"]);
    expect(parseSearch("in:#design from:@bob FROM:me").from).toEqual(["bob", "me"]);
    // A phrase keeps what looks like a filter inside it; unknown prefixes are words.
    expect(parseSearch('"meet in:general" https://x.org/a:b').text).toBe(
      '"meet in:general" https://x.org/a:b',
    );
    expect(parseSearch('-"not this" word').text).toBe('-"not this" word');
    // An unclosed quote runs to the end.
    expect(parseSearch('in:"design team').rooms).toEqual(["design team"]);
  });

  it("keeps the narrowest of several dates", () => {
    const parsed = parseSearch(
      "before:2026-03-01 before:2026-02-01 after:2025-01-01 after:2025-06-30",
    );
    expect(parsed.before).toEqual({ year: 2026, month: 2, day: 1 });
    expect(parsed.after).toEqual({ year: 2025, month: 6, day: 30 });
  });

  it.each([
    ["in:", /in: needs a value/],
    ['from:""', /from: needs a value/],
    ["has:image", /has: takes "file"/],
    ["before:2026-13-01", /before: takes a date/],
    ["after:31/01/2026", /after: takes a date/],
    ["after:2026-02-01 before:2026-02-01", /swap/],
    [Array.from({ length: 21 }, () => "has:file").join(" "), /at most 20 filters/],
  ])("refuses %s clearly", (q, message) => {
    let err: unknown;
    try {
      parseSearch(q);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).message).toMatch(message);
  });

  it("finds where a day begins in a time zone, across a change of offset", () => {
    const day = { year: 2026, month: 3, day: 29 }; // Europe's clocks go forward at 01:00 UTC
    expect(startOfDay(day, "UTC").toISOString()).toBe("2026-03-29T00:00:00.000Z");
    expect(startOfDay(day, "Europe/Berlin").toISOString()).toBe("2026-03-28T23:00:00.000Z");
    expect(startOfDay(nextDay(day), "Europe/Berlin").toISOString()).toBe(
      "2026-03-29T22:00:00.000Z",
    );
    expect(startOfDay({ year: 2026, month: 1, day: 1 }, "America/New_York").toISOString()).toBe(
      "2026-01-01T05:00:00.000Z",
    );
    expect(nextDay({ year: 2024, month: 2, day: 28 })).toEqual({ year: 2024, month: 2, day: 29 });
  });
});
