/** TanStack Query keys for chat data, in one place. */
export const chatKeys = {
  rooms: ["rooms"] as const,
  room: (slug: string) => ["room", slug] as const,
  messages: (roomId: string) => ["messages", roomId] as const,
};
