"use client";

import { type ReactNode, useEffect, useState } from "react";
import { CallHostContext, useActiveCall, useCallHost } from "@/lib/call/client/hooks";
import { createCallHost } from "@/lib/call/client/host";
import { getSocket } from "@/lib/realtime/client";
import { useRoomList } from "@/lib/rooms/use-room-list";
import { CallAudio } from "./CallAudio";

/**
 * The shell's one CallHost (lib/call/client/host.ts): the call you are in lives here, above
 * the pages, with its sound (CallAudio), so moving to another room, search or settings keeps
 * it. It ends when you leave its room or are removed from it, and with the shell (a full
 * page load, closing the tab, signing out). Inside RoomListProvider.
 */
export function CallHostProvider({ children }: { children: ReactNode }) {
  const [host] = useState(createCallHost);
  useEffect(() => () => host.dispose(), [host]);

  // Removed by the owner: the server has taken every tab out of the room and its call.
  useEffect(() => {
    const socket = getSocket();
    const onRemoved = ({ roomId }: { roomId: string }) => host.end(roomId);
    socket.on("room.removed", onRemoved);
    return () => {
      socket.off("room.removed", onRemoved);
    };
  }, [host]);

  return (
    <CallHostContext.Provider value={host}>
      <ActiveCallFollower />
      {children}
    </CallHostContext.Provider>
  );
}

/** Plays the active call's sound and ends the call when its room leaves your list. */
function ActiveCallFollower() {
  const host = useCallHost();
  const active = useActiveCall();
  const rooms = useRoomList();
  useEffect(() => {
    host.roomsChanged(rooms.map((room) => room.id));
  }, [host, rooms, active?.call]);
  return active ? <CallAudio state={active.state} /> : null;
}
