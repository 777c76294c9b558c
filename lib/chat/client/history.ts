import type { HistoryPage } from "../schemas";

/** GET one page of a room's history (newest first when `before` is undefined). */
export async function fetchHistoryPage(
  slug: string,
  before: number | undefined,
): Promise<HistoryPage> {
  const qs = before === undefined ? "" : `?before=${before}`;
  const res = await fetch(`/api/rooms/${encodeURIComponent(slug)}/messages${qs}`, {
    headers: { accept: "application/json" },
  });
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new Error(body?.error?.message ?? `Could not load messages (${res.status})`);
  }
  return (await res.json()) as HistoryPage;
}

export function olderPageParam(lastPage: HistoryPage): number | undefined {
  return lastPage.hasMore ? lastPage.messages[0]?.seq : undefined;
}
