import type { InfiniteData } from "@tanstack/react-query";
import type { HistoryCursor, HistoryPage, MessageView, RoomEvent } from "./schemas";

/**
 * The client's message cache is TanStack Query infinite data: a window onto the room's
 * history, page 0 its newest page, later pages older. When page 0 reaches the live end
 * (`hasNewer` false) new messages join it; when it does not (the room was opened at an old
 * message), they are left out and come with the page after it, or with the newest page on
 * "Jump to latest". These pure functions apply server events and acks to it. Every change
 * is an upsert by message id, so applying an event twice, or out of order with an ack, ends
 * in the same state; a test holds this against a fresh fetch.
 */
export type MessagePages = InfiniteData<HistoryPage, HistoryCursor>;

/** A window holding one page, read at `cursor`. */
export function windowOf(page: HistoryPage, cursor: HistoryCursor = {}): MessagePages {
  return { pages: [page], pageParams: [cursor] };
}

/** Whether the window reaches the live end, where new messages arrive. */
export function isLive(data: MessagePages | undefined): boolean {
  return !data?.pages[0]?.hasNewer;
}

/** The cursor of the page older than the window's oldest, if there is one. */
export function olderCursor(oldest: HistoryPage): HistoryCursor | undefined {
  const first = oldest.messages[0];
  return oldest.hasMore && first ? { before: first.seq } : undefined;
}

/** The cursor of the page newer than the window's newest, if there is one. */
export function newerCursor(newest: HistoryPage): HistoryCursor | undefined {
  const last = newest.messages.at(-1);
  return newest.hasNewer && last ? { after: last.seq } : undefined;
}

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
  // New to us: it goes into the loaded page whose span it falls in. Beyond the window's
  // newest page when that is not the live end, or before the oldest when there is more,
  // it is in a page not loaded, and will come with that page.
  const newest = data.pages[0];
  if (!newest) return data;
  const newestSeq = newest.messages.at(-1)?.seq;
  if (newest.hasNewer && (newestSeq === undefined || message.seq > newestSeq)) return data;
  for (let p = 0; p < data.pages.length; p++) {
    const page = data.pages[p]!;
    const first = page.messages[0]?.seq;
    const oldest = p === data.pages.length - 1;
    if (first === undefined || message.seq > first || (oldest && !page.hasMore)) {
      const messages = [...page.messages, message].sort((a, b) => a.seq - b.seq);
      return replacePage(data, p, { ...page, messages });
    }
  }
  return data;
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
