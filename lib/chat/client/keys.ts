import type { QueryClient } from "@tanstack/react-query";
import type { MessagePages } from "../cache";

/** TanStack Query keys for chat data, in one place. */
export const chatKeys = {
  room: (slug: string) => ["room", slug] as const,
  /** Every message window of the room (a page holds one per opening: `[...this, openingId]`). */
  messages: (roomId: string) => ["messages", roomId] as const,
};

/** Applies `update` to every message window of the room held in the cache. */
export function updateMessages(
  queryClient: QueryClient,
  roomId: string,
  update: (data: MessagePages) => MessagePages,
): void {
  queryClient.setQueriesData<MessagePages>({ queryKey: chatKeys.messages(roomId) }, (data) =>
    data ? update(data) : data,
  );
}
