"use client";

import { useInfiniteQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState, useSyncExternalStore } from "react";
import { flattenPages, type MessagePages } from "@/lib/chat/cache";
import { fetchHistoryPage, olderPageParam } from "@/lib/chat/client/history";
import { chatKeys } from "@/lib/chat/client/keys";
import { getOutbox, type OutboxItem } from "@/lib/chat/client/outbox";
import { RoomSync } from "@/lib/chat/client/room-sync";
import { useOutboxSender } from "@/lib/chat/client/use-outbox-sender";
import type { HistoryPage, MessageView } from "@/lib/chat/schemas";
import type { Participant } from "@/lib/realtime/protocol";
import { randomId } from "@/lib/random-id";

const TYPING_SHOWN_MS = 4000;

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
  const [initialHistory] = useState(options.initialHistory);

  const query = useInfiniteQuery({
    queryKey: chatKeys.messages(roomId),
    queryFn: ({ pageParam }) => fetchHistoryPage(slug, pageParam),
    initialPageParam: undefined as number | undefined,
    getNextPageParam: olderPageParam,
    initialData: { pages: [initialHistory], pageParams: [undefined] } satisfies MessagePages,
    // RoomSync keeps the cache equal to the server; refetching would only race it.
    staleTime: Infinity,
    refetchOnWindowFocus: false,
    refetchOnReconnect: false,
  });

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
    });
    syncRef.current = sync;
    sync.start();
    sync.setBaseline(initialHistory.lastSeq);
    return () => {
      sync.stop();
      syncRef.current = null;
    };
  }, [queryClient, roomId, meId, initialHistory]);

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

  const messages = useMemo(() => flattenPages(query.data as MessagePages), [query.data]);
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
      if (query.hasNextPage && !query.isFetchingNextPage) void query.fetchNextPage();
    },
    send: (body, extras) => void sender.send({ clientId: randomId(), roomId, body, ...extras }),
    retry: (clientId) => void sender.retry(clientId),
    discard: (clientId) => void sender.discard(clientId),
  };
}

const EMPTY: OutboxItem[] = [];
