import { describe, expect, it } from "vitest";
import {
  flattenPages,
  isLive,
  type MessagePages,
  newerCursor,
  olderCursor,
  upsertMessage,
  windowOf,
} from "./cache";
import type { HistoryPage, MessageView } from "./schemas";

const msg = (seq: number, body = `m${seq}`): MessageView => ({
  id: `id-${seq}`,
  roomId: "room",
  seq,
  clientId: `c-${seq}`,
  author: { id: "ada", displayName: "Ada" },
  body,
  replyTo: null,
  createdAt: new Date(seq * 1000).toISOString(),
  editedAt: null,
  deletedAt: null,
  reactions: [],
  attachments: [],
});
const page = (seqs: number[], hasMore: boolean, hasNewer: boolean): HistoryPage => ({
  messages: seqs.map((s) => msg(s)),
  hasMore,
  hasNewer,
  lastSeq: 100,
});
const seqs = (data: MessagePages) => flattenPages(data).map((m) => m.seq);

describe("the message window", () => {
  it("at the live end, a new message joins the newest page", () => {
    const live = windowOf(page([8, 9, 10], true, false));
    expect(isLive(live)).toBe(true);
    expect(seqs(upsertMessage(live, msg(11)))).toEqual([8, 9, 10, 11]);
  });

  it("away from the live end, a new message is left for the page after the window", () => {
    const away = windowOf(page([4, 5, 6], true, true), { around: 5 });
    expect(isLive(away)).toBe(false);
    expect(upsertMessage(away, msg(50))).toBe(away);
    // An edit of a message in view is applied wherever the window is.
    const edited = upsertMessage(away, msg(5, "edited"));
    expect(flattenPages(edited).find((m) => m.seq === 5)!.body).toBe("edited");
  });

  it("a message missing inside the window goes into the page whose span it falls in", () => {
    const data: MessagePages = {
      pages: [page([20, 22], true, true), page([10, 12], true, true)],
      pageParams: [{ after: 9 }, { around: 11 }],
    };
    expect(seqs(upsertMessage(data, msg(21)))).toEqual([10, 12, 20, 21, 22]);
    expect(seqs(upsertMessage(data, msg(15)))).toEqual([10, 12, 15, 20, 22]);
    // Older than everything loaded, with more before: it comes with that page.
    expect(upsertMessage(data, msg(3))).toBe(data);
  });

  it("pages on from either end by seq", () => {
    expect(olderCursor(page([4, 5], true, true))).toEqual({ before: 4 });
    expect(olderCursor(page([1, 2], false, true))).toBeUndefined();
    expect(newerCursor(page([4, 5], true, true))).toEqual({ after: 5 });
    expect(newerCursor(page([4, 5], true, false))).toBeUndefined();
  });
});
