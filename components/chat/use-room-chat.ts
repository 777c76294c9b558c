"use client";

import { useInfiniteQuery, useQueryClient } from "@tanstack/react-query";
import {
  useCallback,
  useEffect,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
} from "react";
import {
  flattenPages,
  isLive,
  type MessagePages,
  newerCursor,
  olderCursor,
  windowOf,
} from "@/lib/chat/cache";
import { fetchHistoryPage } from "@/lib/chat/client/history";
import { chatKeys } from "@/lib/chat/client/keys";
import { getOutbox, type OutboxItem } from "@/lib/chat/client/outbox";
import { RoomSync } from "@/lib/chat/client/room-sync";
import { useOutboxSender } from "@/lib/chat/client/use-outbox-sender";
import type { HistoryPage, MessageView, RoomEvent } from "@/lib/chat/schemas";
import type { Participant } from "@/lib/realtime/protocol";
import { randomId } from "@/lib/random-id";

const TYPING_SHOWN_MS = 4000;
/** The most pages a window holds (50 messages each); paging on drops them from the far end. */
const MAX_WINDOW_PAGES = 10;

export interface RoomChat {
  messages: MessageView[];
  /** Outbox items not yet in the log, oldest first. */
  pending: OutboxItem[];
  participants: Participant[];
  typing: string[];
  roomName: string;
  error: string | null;
  hasOlder: boolean;
  loadingOlder: boolean;
  loadOlder(): void;
  /** Newer messages exist beyond the window (it was opened at an older message). */
  hasNewer: boolean;
  loadingNewer: boolean;
  loadNewer(): void;
  /** The window reaches the live end: new messages appear in it. */
  live: boolean;
  /** Others' messages that arrived while the window was away from the live end. */
  unseen: number;
  /** Loads the newest page as the window (if it is not live); answers its messages. */
  jumpToLatest(): Promise<MessageView[]>;
  /** The message this opening of the room points at (`?m=<seq>`). */
  focusSeq: number | undefined;
  /** Changes with every opening (a new link followed in the same room). */
  openingId: string;
  /** The highest seq of the room's log this page has applied. */
  appliedSeq(): number;
  send(body: string, extras?: { replyToId?: string; attachmentIds?: string[] }): void;
  retry(clientId: string): void;
  discard(clientId: string): void;
}

/**
 * One room's chat state for the UI: history from TanStack Query (first page prefetched by
 * the server), kept live and gap-free by RoomSync, merged with the outbox's pending sends.
 */
export function useRoomChat(options: {
  roomId: string;
  slug: string;
  meId: string;
  initialName: string;
  initialHistory: HistoryPage;
  focusSeq?: number;
}): RoomChat {
  const { roomId, slug, meId } = options;
  const queryClient = useQueryClient();
  const sender = useOutboxSender(meId);
  const [participants, setParticipants] = useState<Participant[]>([]);
  const [typingUntil, setTypingUntil] = useState<Map<string, { name: string; until: number }>>(
    () => new Map(),
  );
  const [roomName, setRoomName] = useState(options.initialName);
  const [error, setError] = useState<string | null>(null);
  const [arrived, setArrived] = useState({ opening: "", count: 0 });

  // Each opening of the room (the page, or a link to another of its messages followed in
  // place) is a window of its own, seeded with the history the server read for it.
  const [opening, setOpening] = useState(() => newOpening(options));
  if (opening.history !== options.initialHistory) setOpening(newOpening(options));
  const queryKey = useMemo(() => [...chatKeys.messages(roomId), opening.id], [roomId, opening.id]);

  const query = useInfiniteQuery({
    queryKey,
    queryFn: ({ pageParam }) => fetchHistoryPage(slug, pageParam),
    initialPageParam: opening.cursor,
    getNextPageParam: (oldest) => olderCursor(oldest),
    getPreviousPageParam: (newest) => newerCursor(newest),
    initialData: windowOf(opening.history, opening.cursor),
    maxPages: MAX_WINDOW_PAGES,
    // RoomSync keeps the cache equal to the server; refetching would only race it.
    staleTime: Infinity,
    // A window no one shows is dropped at once: the next opening reads its own.
    gcTime: 0,
    refetchOnWindowFocus: false,
    refetchOnReconnect: false,
  });
  const data = query.data as MessagePages;
  const live = isLive(data);

  // Counting others' messages that arrive beyond a window that is not live, per opening,
  // each seq once (catching up after a new baseline replays some). Shown until the window
  // is live again.
  const counting = useRef({ live, opening: opening.id, through: opening.history.lastSeq });
  useLayoutEffect(() => {
    const state = counting.current;
    if (state.opening !== opening.id) {
      state.opening = opening.id;
      state.through = opening.history.lastSeq;
    }
    state.live = live;
  }, [live, opening]);
  const onEvents = useCallback(
    (events: RoomEvent[]) => {
      const state = counting.current;
      let count = 0;
      for (const event of events) {
        if (event.seq <= state.through) continue;
        state.through = event.seq;
        if (event.type === "message.created" && event.message.author.id !== meId) count++;
      }
      const { opening: at, live: isLiveNow } = state;
      if (isLiveNow) setArrived((a) => (a.count === 0 ? a : { opening: at, count: 0 }));
      else if (count)
        setArrived((a) => ({ opening: at, count: (a.opening === at ? a.count : 0) + count }));
    },
    [meId],
  );
  const unseen = live || arrived.opening !== opening.id ? 0 : arrived.count;

  const syncRef = useRef<RoomSync | null>(null);
  useEffect(() => {
    const sync = new RoomSync(queryClient, roomId, {
      onPresence: setParticipants,
      onTyping: (userId, name) => {
        if (userId === meId) return;
        setTypingUntil((prev) =>
          new Map(prev).set(userId, { name, until: Date.now() + TYPING_SHOWN_MS }),
        );
      },
      onRenamed: setRoomName,
      onError: setError,
      onEvents,
    });
    syncRef.current = sync;
    sync.start();
    return () => {
      sync.stop();
      syncRef.current = null;
    };
  }, [queryClient, roomId, meId, onEvents]);

  // A new window: what the log did after its page was read is applied to it.
  useEffect(() => {
    syncRef.current?.setBaseline(opening.history.lastSeq);
  }, [opening]);
  const newestPage = data.pages[0];
  const wasLive = useRef(live);
  useEffect(() => {
    // Paged (or jumped) to the live end: what arrived meanwhile was left out; apply it.
    if (live && !wasLive.current && newestPage) syncRef.current?.setBaseline(newestPage.lastSeq);
    wasLive.current = live;
  }, [live, newestPage]);

  const jumpToLatest = useCallback(async (): Promise<MessageView[]> => {
    const current = queryClient.getQueryData<MessagePages>(queryKey);
    if (isLive(current)) return flattenPages(current);
    try {
      const page = await fetchHistoryPage(slug);
      // A page still loading at the old window's ends would land on the new one.
      await queryClient.cancelQueries({ queryKey });
      queryClient.setQueryData<MessagePages>(queryKey, windowOf(page));
      return page.messages;
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
      return [];
    }
  }, [queryClient, queryKey, slug]);

  // Expire typing indicators.
  useEffect(() => {
    if (typingUntil.size === 0) return;
    const next = Math.min(...[...typingUntil.values()].map((t) => t.until));
    const timer = setTimeout(
      () => {
        setTypingUntil((prev) => new Map([...prev].filter(([, t]) => t.until > Date.now())));
      },
      Math.max(50, next - Date.now()),
    );
    return () => clearTimeout(timer);
  }, [typingUntil]);

  const outbox = getOutbox();
  const outboxItems = useSyncExternalStore(
    useCallback((cb) => outbox.subscribe(cb), [outbox]),
    () => outbox.list(roomId),
    () => EMPTY,
  );

  const messages = useMemo(() => flattenPages(data), [data]);
  const pending = useMemo(() => {
    const sent = new Set(messages.map((m) => m.clientId));
    return outboxItems.filter((item) => item.userId === meId && !sent.has(item.clientId));
  }, [messages, outboxItems, meId]);

  // A pending item that the log now holds (acked elsewhere, e.g. another tab) is done.
  useEffect(() => {
    const sent = new Set(messages.map((m) => m.clientId));
    for (const item of outboxItems) {
      if (sent.has(item.clientId)) void outbox.remove(item.clientId);
    }
  }, [messages, outboxItems, outbox]);

  const typing = useMemo(() => [...typingUntil.values()].map((t) => t.name), [typingUntil]);

  return {
    messages,
    pending,
    participants,
    typing,
    roomName,
    error,
    hasOlder: query.hasNextPage,
    loadingOlder: query.isFetchingNextPage,
    loadOlder: () => {
      if (query.hasNextPage && !query.isFetching) void query.fetchNextPage();
    },
    hasNewer: query.hasPreviousPage,
    loadingNewer: query.isFetchingPreviousPage,
    loadNewer: () => {
      if (query.hasPreviousPage && !query.isFetching) void query.fetchPreviousPage();
    },
    live,
    unseen,
    jumpToLatest,
    focusSeq: opening.focusSeq,
    openingId: opening.id,
    appliedSeq: () => syncRef.current?.appliedSeq ?? 0,
    send: (body, extras) => void sender.send({ clientId: randomId(), roomId, body, ...extras }),
    retry: (clientId) => void sender.retry(clientId),
    discard: (clientId) => void sender.discard(clientId),
  };
}

const EMPTY: OutboxItem[] = [];

function newOpening(options: { initialHistory: HistoryPage; focusSeq?: number }) {
  const { initialHistory, focusSeq } = options;
  return {
    id: randomId(),
    history: initialHistory,
    focusSeq,
    // The cursor the server read it at: re-reading the window reads the same page.
    cursor: focusSeq === undefined ? {} : { around: focusSeq },
  };
}
