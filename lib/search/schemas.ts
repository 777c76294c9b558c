import { z } from "zod";
import { messagePath } from "@/lib/chat/permalink";
import type { RoomKind } from "@/lib/rooms/schemas";
import { isTimeZone } from "./query";

/** The longest search accepted (characters). */
export const MAX_SEARCH_LENGTH = 500;
export const SEARCH_PAGE_SIZE = 20;

export const searchSorts = ["newest", "best"] as const;
export type SearchSort = (typeof searchSorts)[number];

/** GET /api/search's query string. */
export const searchInputSchema = z.object({
  q: z
    .string()
    .trim()
    .min(1, "Type something to search for")
    .max(MAX_SEARCH_LENGTH, `A search is at most ${MAX_SEARCH_LENGTH} characters`),
  sort: z.enum(searchSorts, "Sort by newest or best").default("newest"),
  /** The last page's `nextCursor`. */
  cursor: z.string().max(400, "That page of results is no longer valid; search again").optional(),
  limit: z.coerce.number().int().min(1).max(50).default(SEARCH_PAGE_SIZE),
  /** The searcher's time zone (IANA), for what a day in before:/after: means. */
  tz: z.string().max(64).refine(isTimeZone, "That is not a time zone").default("UTC"),
});
export type SearchInput = z.output<typeof searchInputSchema>;

/** Text with the parts that matched the search marked: render `mark` parts as <mark>. */
export type Highlighted = Array<{ text: string; mark: boolean }>;

export interface SearchHit {
  messageId: string;
  /** Its place in the room: the link is /r/<slug>?m=<seq>. */
  seq: number;
  room: { id: string; slug: string; name: string; kind: RoomKind };
  author: { id: string; displayName: string };
  createdAt: string;
  editedAt: string | null;
  /** An excerpt of the message around the matching words. */
  snippet: Highlighted;
  /** The names of the files it shares. */
  files: Highlighted[];
}

export interface SearchPage {
  hits: SearchHit[];
  /** Pass as `cursor` for the next page; null at the end. */
  nextCursor: string | null;
}

/** Where a hit opens: the room at that message (its permalink). */
export function hitPath(hit: Pick<SearchHit, "room" | "seq">): string {
  return messagePath(hit.room.slug, hit.seq);
}

/**
 * The search in a search page's address (`?q=…&sort=…`), read the same way on the server
 * (the page) and in the browser (the box and the view, from `useSearchParams`).
 */
export function searchFromParams(q: unknown, sort: unknown): { q: string; sort: SearchSort } {
  return {
    q: typeof q === "string" ? q.trim() : "",
    sort: searchSorts.find((s) => s === sort) ?? "newest",
  };
}

/** The search page for `q` (what the search box opens). */
export function searchPagePath(q: string, sort: SearchSort = "newest"): string {
  const params = new URLSearchParams({ q });
  if (sort !== "newest") params.set("sort", sort);
  return `/search?${params}`;
}
