/** TanStack Query keys for chat data, in one place. */
export const chatKeys = {
  room: (slug: string) => ["room", slug] as const,
  messages: (roomId: string) => ["messages", roomId] as const,
};
