import type { Metadata } from "next";
import { SearchView } from "@/components/search/SearchView";
import { requirePageUser } from "@/lib/auth/session";
import { searchFromParams, searchPagePath } from "@/lib/search/schemas";

export const metadata: Metadata = { title: "Search" };
export const dynamic = "force-dynamic";

/** The results of a search (the search box's Enter); the view fetches them. */
export default async function SearchPage({
  searchParams,
}: {
  searchParams: Promise<{ q?: string | string[]; sort?: string | string[] }>;
}) {
  const params = await searchParams;
  const { q, sort } = searchFromParams(params.q, params.sort);
  await requirePageUser(q ? searchPagePath(q, sort) : "/search");
  // The view reads the search from the address itself: it changes without a new page.
  return <SearchView />;
}
