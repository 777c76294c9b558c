"use client";

import Link from "next/link";
import { useEffect, useMemo, useState } from "react";
import type { SessionUser } from "@/lib/auth/schemas";
import type { HistoryPage } from "@/lib/chat/schemas";
import type { MemberRole, RoomView as Room } from "@/lib/rooms/schemas";
import { CallPanel } from "@/components/call/CallPanel";
import { ChatPanel } from "@/components/chat/ChatPanel";
import { useRoomChat } from "@/components/chat/use-room-chat";
import { FilesPanel } from "@/components/files/FilesPanel";
import { useFocusReport } from "@/lib/notify/client/focus";
import { getSocket } from "@/lib/realtime/client";
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
  focusSeq,
  linkError,
  maxMessageLength,
}: {
  me: SessionUser;
  room: Room;
  role: MemberRole;
  invitePath: string;
  initialHistory: HistoryPage;
  /** Open at this message (`?m=<seq>`): scrolled to and marked. */
  focusSeq?: number;
  /** The link named a message that is not here: said, with the newest messages shown. */
  linkError?: string;
  maxMessageLength: number;
}) {
  const chat = useRoomChat({
    roomId: room.id,
    slug: room.slug,
    meId: me.id,
    initialName: room.name,
    initialHistory,
    focusSeq,
  });

  useFocusReport(room.id);

  // An owner removed me: the server has already taken this tab out of the room.
  const [removed, setRemoved] = useState(false);
  useEffect(() => {
    const socket = getSocket();
    const onRemoved = ({ roomId }: { roomId: string }) => {
      if (roomId === room.id) setRemoved(true);
    };
    socket.on("room.removed", onRemoved);
    return () => {
      socket.off("room.removed", onRemoved);
    };
  }, [room.id]);

  useEffect(() => {
    document.title = `${chat.roomName} · Parley`;
  }, [chat.roomName]);
  // Changes whenever a file is shared or a message with files is deleted.
  const sharedIds = useMemo(
    () => chat.messages.flatMap((m) => m.attachments.map((a) => a.id)).join(","),
    [chat.messages],
  );

  if (removed) {
    return (
      <main className={styles.shell}>
        <p role="alert" className="alert">
          You were removed from {chat.roomName}. <Link href="/">Back to your rooms</Link>
        </p>
      </main>
    );
  }

  return (
    <main className={styles.shell}>
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
            linkError={linkError}
            slug={room.slug}
          />
        </div>
        <aside className={styles.side}>
          <Participants
            participants={chat.participants}
            meId={me.id}
            slug={room.slug}
            canRemove={role === "owner"}
          />
          <FilesPanel slug={room.slug} sharedIds={sharedIds} />
        </aside>
      </div>
    </main>
  );
}
