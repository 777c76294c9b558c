"use client";

import { useEffect, useMemo } from "react";
import type { SessionUser } from "@/lib/auth/schemas";
import type { HistoryPage } from "@/lib/chat/schemas";
import type { MemberRole, RoomView as Room } from "@/lib/rooms/schemas";
import { CallPanel } from "@/components/call/CallPanel";
import { ChatPanel } from "@/components/chat/ChatPanel";
import { useRoomChat } from "@/components/chat/use-room-chat";
import { FilesPanel } from "@/components/files/FilesPanel";
import { AppHeader } from "@/components/ui/AppHeader";
import { Participants } from "./Participants";
import { RoomHeader } from "./RoomHeader";
import styles from "./Room.module.css";

/** A room: its header, the call, the chat and who is here. */
export function RoomView({
  me,
  room,
  role,
  invitePath,
  initialHistory,
  maxMessageLength,
}: {
  me: SessionUser;
  room: Room;
  role: MemberRole;
  invitePath: string;
  initialHistory: HistoryPage;
  maxMessageLength: number;
}) {
  const chat = useRoomChat({
    roomId: room.id,
    slug: room.slug,
    meId: me.id,
    initialName: room.name,
    initialHistory,
  });

  useEffect(() => {
    document.title = `${chat.roomName} · Parley`;
  }, [chat.roomName]);
  // Changes whenever a file is shared or a message with files is deleted.
  const sharedIds = useMemo(
    () => chat.messages.flatMap((m) => m.attachments.map((a) => a.id)).join(","),
    [chat.messages],
  );

  return (
    <div className={styles.shell}>
      <AppHeader userName={me.displayName} />
      <RoomHeader
        roomId={room.id}
        slug={room.slug}
        name={chat.roomName}
        invitePath={invitePath}
        isOwner={role === "owner"}
      />
      <div className={styles.body}>
        <div className={styles.mainColumn}>
          <CallPanel roomId={room.id} slug={room.slug} meName={me.displayName} />
          <ChatPanel
            chat={chat}
            roomId={room.id}
            meId={me.id}
            meName={me.displayName}
            canModerate={role === "owner"}
            maxMessageLength={maxMessageLength}
          />
        </div>
        <aside className={styles.side}>
          <Participants participants={chat.participants} meId={me.id} />
          <FilesPanel slug={room.slug} sharedIds={sharedIds} />
        </aside>
      </div>
    </div>
  );
}
