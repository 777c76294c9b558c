import type { Metadata } from "next";
import { SearchView } from "@/components/search/SearchView";
import { requirePageUser } from "@/lib/auth/session";
import { searchPagePath, searchSorts } from "@/lib/search/schemas";

export const metadata: Metadata = { title: "Search" };
export const dynamic = "force-dynamic";

/** The results of a search (the search box's Enter); the view fetches them. */
export default async function SearchPage({
  searchParams,
}: {
  searchParams: Promise<{ q?: string | string[]; sort?: string | string[] }>;
}) {
  const params = await searchParams;
  const q = (typeof params.q === "string" ? params.q : "").trim();
  const sort = searchSorts.find((s) => s === params.sort) ?? "newest";
  await requirePageUser(q ? searchPagePath(q, sort) : "/search");
  return <SearchView q={q} sort={sort} />;
}
