"use client";

import {
  createContext,
  type ReactNode,
  useContext,
  useEffect,
  useState,
  useSyncExternalStore,
} from "react";
import { RoomListSync } from "./list-sync";
import type { RoomSummary } from "./schemas";

const RoomListContext = createContext<RoomListSync | null>(null);

/**
 * The page's one live list of your rooms (lib/rooms/list-sync.ts), made by the signed-in
 * layout and kept across client navigations: the sidebar, the home list, the quick
 * switcher, Alt+↑/↓ and the unread count in the title all read this one.
 */
export function RoomListProvider({
  userId,
  initialRooms,
  children,
}: {
  userId: string;
  /** The list as the server rendered it; the socket's watch takes over from there. */
  initialRooms: RoomSummary[];
  children: ReactNode;
}) {
  const [sync] = useState(() => new RoomListSync(userId, initialRooms));
  useEffect(() => {
    sync.start();
    return () => sync.stop();
  }, [sync]);
  return <RoomListContext.Provider value={sync}>{children}</RoomListContext.Provider>;
}

/** Your rooms, most recently active first, live. Only inside `RoomListProvider`. */
export function useRoomList(): RoomSummary[] {
  const sync = useContext(RoomListContext);
  if (!sync) throw new Error("useRoomList needs the signed-in layout's RoomListProvider");
  return useSyncExternalStore(sync.subscribe, sync.rooms, sync.rooms);
}

/** One of your rooms by id, live (its name follows renames); null if not in your list. */
export function useRoomSummary(roomId: string | null): RoomSummary | null {
  const rooms = useRoomList();
  return (roomId && rooms.find((room) => room.id === roomId)) || null;
}
