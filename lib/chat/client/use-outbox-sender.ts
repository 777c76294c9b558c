"use client";

import { type QueryClient, useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import { OutboxSender } from "./sender";

const senders = new WeakMap<QueryClient, Map<string, OutboxSender>>();

/** One sender per page (query client) and user. */
function senderFor(queryClient: QueryClient, userId: string): OutboxSender {
  let byUser = senders.get(queryClient);
  if (!byUser) senders.set(queryClient, (byUser = new Map()));
  let sender = byUser.get(userId);
  if (!sender) byUser.set(userId, (sender = new OutboxSender(queryClient, userId)));
  return sender;
}

/** The signed-in user's outbox sender, running while anything on the page uses it. */
export function useOutboxSender(userId: string): OutboxSender {
  const sender = senderFor(useQueryClient(), userId);
  useEffect(() => sender.start(), [sender]);
  return sender;
}
