import { useInfiniteQuery } from "@tanstack/react-query";
import { readJson } from "@/lib/api-client";
import type { SearchHit, SearchPage, SearchSort } from "./schemas";

/** One page of GET /api/search, in the browser's own time zone (for before:/after:). */
export async function fetchSearchPage(
  q: string,
  sort: SearchSort,
  cursor: string | undefined,
): Promise<SearchPage> {
  const params = new URLSearchParams({ q, sort });
  if (cursor) params.set("cursor", cursor);
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (tz) params.set("tz", tz);
  const res = await fetch(`/api/search?${params}`, { headers: { accept: "application/json" } });
  return readJson<SearchPage>(res, "Search failed");
}

/**
 * Shows another search on the search page, which is already open: the address changes at
 * once (`history`; Next.js keeps `useSearchParams` in step) and the view fetches the results
 * itself. A router navigation would wait for the server's page, and a sort chosen meanwhile
 * would build its address from the search before it (the address is the one source of the
 * search's state). `push` for a new search (Back returns to the last), `replace` for a sort.
 */
export function showSearch(path: string, how: "push" | "replace"): void {
  if (how === "push") window.history.pushState(null, "", path);
  else window.history.replaceState(null, "", path);
}

/** The results of a search, page by page (TanStack Query; `fetchNextPage` for more). */
export function useSearch(q: string, sort: SearchSort) {
  return useInfiniteQuery({
    queryKey: ["search", q, sort],
    queryFn: ({ pageParam }) => fetchSearchPage(q, sort, pageParam),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.nextCursor ?? undefined,
    enabled: q.trim().length > 0,
    // A refused search (bad syntax, too fast) says why; asking again would say the same.
    retry: false,
    refetchOnWindowFocus: false,
  });
}

export interface RoomHits {
  room: SearchHit["room"];
  hits: SearchHit[];
}

/**
 * Hits grouped by room, the rooms in the order of their first hit, each room's hits in
 * the search's order. Later pages only add hits that sort after every earlier one, so
 * loading more grows the groups without reordering them.
 */
export function groupByRoom(hits: SearchHit[]): RoomHits[] {
  const groups = new Map<string, RoomHits>();
  for (const hit of hits) {
    let group = groups.get(hit.room.id);
    if (!group) groups.set(hit.room.id, (group = { room: hit.room, hits: [] }));
    group.hits.push(hit);
  }
  return [...groups.values()];
}
