import type { InfiniteData } from "@tanstack/react-query";
import type { HistoryPage, MessageView, RoomEvent } from "./schemas";

/**
 * The client's message cache is TanStack Query infinite data: page 0 is the newest page,
 * later pages are older. These pure functions apply server events and acks to it. Every
 * change is an upsert by message id, so applying an event twice, or out of order with an
 * ack, ends in the same state; a test holds this against a fresh fetch.
 */
export type MessagePages = InfiniteData<HistoryPage, number | undefined>;

export function upsertMessage(data: MessagePages, message: MessageView): MessagePages {
  for (let p = 0; p < data.pages.length; p++) {
    const page = data.pages[p]!;
    const i = page.messages.findIndex((m) => m.id === message.id);
    if (i >= 0) {
      const messages = page.messages.slice();
      messages[i] = message;
      return replacePage(data, p, { ...page, messages });
    }
  }
  // New to us: it belongs in the newest page unless it is older than everything there
  // (a page we have not loaded), in which case it will come with that page.
  const newest = data.pages[0];
  if (!newest) return data;
  const first = newest.messages[0];
  if (first && message.seq < first.seq && newest.hasMore) return data;
  const messages = [...newest.messages, message].sort((a, b) => a.seq - b.seq);
  return replacePage(data, 0, { ...newest, messages });
}

export function applyEvents(data: MessagePages, events: RoomEvent[]): MessagePages {
  let next = data;
  for (const event of events) {
    if (event.type !== "room.renamed") next = upsertMessage(next, event.message);
  }
  return next;
}

/** All loaded messages, oldest first. */
export function flattenPages(data: MessagePages | undefined): MessageView[] {
  if (!data) return [];
  const out: MessageView[] = [];
  for (let p = data.pages.length - 1; p >= 0; p--) out.push(...data.pages[p]!.messages);
  return out;
}

function replacePage(data: MessagePages, index: number, page: HistoryPage): MessagePages {
  const pages = data.pages.slice();
  pages[index] = page;
  return { ...data, pages };
}
