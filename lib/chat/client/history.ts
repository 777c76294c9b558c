import type { HistoryCursor, HistoryPage } from "../schemas";

/** GET one page of a room's history: the newest, or at a cursor (lib/chat/views.ts). */
export async function fetchHistoryPage(
  slug: string,
  cursor: HistoryCursor = {},
): Promise<HistoryPage> {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(cursor)) {
    if (value !== undefined) query.set(name, String(value));
  }
  const qs = query.size ? `?${query}` : "";
  const res = await fetch(`/api/rooms/${encodeURIComponent(slug)}/messages${qs}`, {
    headers: { accept: "application/json" },
  });
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new Error(body?.error?.message ?? `Could not load messages (${res.status})`);
  }
  return (await res.json()) as HistoryPage;
}
