import { describe, expect, it } from "vitest";
import { adjacentRoom, matchRank, sidebarOrder, slugOfPath, switcherOptions } from "./navigation";
import type { RoomKind, RoomSummary } from "./schemas";

const room = (name: string, kind: RoomKind = "open"): RoomSummary => ({
  id: `id-${name}`,
  slug: `slug-${name.toLowerCase().replace(/\W+/g, "-")}`,
  name,
  kind,
  lastSeq: 0,
  role: "member",
  lastReadSeq: 0,
  unreadCount: 0,
  mentionCount: 0,
  lastMessageAt: null,
  callCount: 0,
});

// The live list's order: most recently active first, rooms and direct conversations mixed.
const list = [
  room("Design"),
  room("Ada & Grace", "direct"),
  room("Release planning", "private"),
  room("Ada & Bob", "direct"),
  room("Random"),
];

describe("moving between rooms", () => {
  it("shows rooms first and then direct conversations, each in the list's order", () => {
    expect(sidebarOrder(list).map((r) => r.name)).toEqual([
      "Design",
      "Release planning",
      "Random",
      "Ada & Grace",
      "Ada & Bob",
    ]);
  });

  it("steps to the room below or above in that order, and stops at the ends", () => {
    const next = (slug: string | null, step: 1 | -1) => adjacentRoom(list, slug, step)?.name;
    expect(next("slug-design", 1)).toBe("Release planning");
    expect(next("slug-random", 1)).toBe("Ada & Grace");
    expect(next("slug-ada-grace", -1)).toBe("Random");
    expect(next("slug-ada-bob", 1)).toBeUndefined();
    expect(next("slug-design", -1)).toBeUndefined();
    // From home (or a room not in the list yet): the first going down, the last going up.
    expect(next(null, 1)).toBe("Design");
    expect(next(null, -1)).toBe("Ada & Bob");
    expect(next("slug-unknown", 1)).toBe("Design");
    expect(adjacentRoom([], null, 1)).toBeNull();
  });

  it("reads the room of a path", () => {
    expect(slugOfPath("/r/abc-def")).toBe("abc-def");
    expect(slugOfPath("/r/abc-def/")).toBe("abc-def");
    expect(slugOfPath("/settings")).toBeNull();
    expect(slugOfPath(null)).toBeNull();
  });
});

describe("the quick switcher's matches", () => {
  it("ranks the start of the name, then the start of a word, then anywhere; accents and case aside", () => {
    expect(matchRank("Release planning", "rel")).toBe(0);
    expect(matchRank("Release planning", "PLAN")).toBe(1);
    expect(matchRank("Release planning", "anni")).toBe(2);
    expect(matchRank("Café Crème", "creme")).toBe(1);
    expect(matchRank("Design", "x")).toBeNull();
  });

  it("lists your rooms in sidebar order when nothing is typed, and no people", () => {
    const options = switcherOptions(list, [{ userId: "u1", displayName: "Grace" }], "");
    expect(options.map((o) => o.label)).toEqual(sidebarOrder(list).map((r) => r.name));
    expect(options.every((o) => o.kind === "room")).toBe(true);
  });

  it("puts matching rooms first, best first, then matching people; ties keep the list's order", () => {
    const people = [
      { userId: "u1", displayName: "Adam West" },
      { userId: "u2", displayName: "Grace Hopper" },
      { userId: "u3", displayName: "Nadia" },
    ];
    const options = switcherOptions(list, people, "ad");
    expect(options.map((o) => `${o.kind}:${o.label}`)).toEqual([
      "room:Ada & Grace",
      "room:Ada & Bob",
      "person:Adam West",
      "person:Nadia",
    ]);
    expect(switcherOptions(list, people, "zzz")).toEqual([]);
    expect(switcherOptions(list, people, "a", 3)).toHaveLength(3);
    // Option ids are unique, for aria-activedescendant.
    const ids = switcherOptions(list, people, "a").map((o) => o.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
