import { describe, expect, it } from "vitest";
import {
  defaultLevel,
  linkRoomMentions,
  mentionMarkdown,
  parseMentions,
  plainPreview,
  prefsSchema,
  subscribeSchema,
} from "./schemas";

const ADA = "0b7c1f0e-6f1a-4f57-9a53-0d7a3c1f2e11";
const BOB = "6a1d9c44-2b8e-4c0b-8f0a-5e9b7d3c2a10";

describe("mentions", () => {
  it("finds members mentioned and @room, not inside code or addresses", () => {
    const body = `${mentionMarkdown(ADA, "Ada")} and ${mentionMarkdown(BOB, "Bob")}: @room, see \`@room\` and ${mentionMarkdown(ADA, "Ada")}`;
    expect(parseMentions(body)).toEqual({ userIds: [ADA, BOB], room: true });
    expect(parseMentions("mail me at team@room.example")).toEqual({ userIds: [], room: false });
    expect(parseMentions("```\n@room\n```")).toEqual({ userIds: [], room: false });
    expect(parseMentions("`[@Ada](mention:" + ADA + ")`").userIds).toEqual([]);
  });

  it("writes a mention whatever the name holds", () => {
    expect(mentionMarkdown(ADA, "A[d]a\\")).toBe(`[@Ada](mention:${ADA})`);
  });

  it("previews a message as plain text, mentions as @Name", () => {
    expect(plainPreview(`${mentionMarkdown(BOB, "Bob")} **look** at _this_`)).toBe(
      "@Bob look at this",
    );
    expect(plainPreview("x".repeat(300))).toHaveLength(140);
  });

  it("links @room for rendering, except in code", () => {
    expect(linkRoomMentions("hi @room `@room`")).toBe("hi [@room](mention:room) `@room`");
  });

  it("defaults: direct conversations notify everything, rooms only mentions", () => {
    expect(defaultLevel("direct")).toBe("all");
    expect(defaultLevel("open")).toBe("mentions");
  });
});

describe("inputs", () => {
  it("refuses a subscription with malformed keys", () => {
    const ok = {
      endpoint: "https://push.example/x",
      keys: { p256dh: "B".repeat(87), auth: "a".repeat(22) },
    };
    expect(subscribeSchema.safeParse(ok).success).toBe(true);
    expect(subscribeSchema.safeParse({ ...ok, keys: { ...ok.keys, auth: "short" } }).success).toBe(
      false,
    );
    expect(subscribeSchema.safeParse({ ...ok, endpoint: "not a url" }).success).toBe(false);
  });

  it("refuses an empty or too long do-not-disturb", () => {
    expect(prefsSchema.safeParse({}).success).toBe(false);
    expect(prefsSchema.safeParse({ dndMinutes: 8 * 24 * 60 }).success).toBe(false);
    expect(prefsSchema.safeParse({ dndMinutes: 60 }).success).toBe(true);
  });
});
