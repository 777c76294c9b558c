"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useMemo, useRef, useState } from "react";
import { type MessagePages, upsertMessage } from "@/lib/chat/cache";
import { chatKeys } from "@/lib/chat/client/keys";
import type { MessageView } from "@/lib/chat/schemas";
import { useChatFiles } from "@/components/files/use-chat-files";
import { command } from "@/lib/realtime/client";
import { Composer } from "./Composer";
import type { MessageActions } from "./MessageItem";
import { MessageList } from "./MessageList";
import type { RoomChat } from "./use-room-chat";
import styles from "./Chat.module.css";

const TYPING_EVERY_MS = 2500;
/** At most one read-position update per second while messages stream in. */
const READ_MARK_EVERY_MS = 1000;

/** The room's `Chat` region: the conversation and the composer. */
export function ChatPanel({
  chat,
  roomId,
  meId,
  meName,
  canModerate,
  maxMessageLength,
  focusSeq,
  slug,
}: {
  chat: RoomChat;
  roomId: string;
  meId: string;
  meName: string;
  canModerate: boolean;
  maxMessageLength: number;
  focusSeq?: number;
  /** The room's link: the `@` autocomplete asks for its members. */
  slug?: string;
}) {
  const queryClient = useQueryClient();
  const [replyTo, setReplyTo] = useState<MessageView | null>(null);
  const files = useChatFiles(roomId);
  const lastTyping = useRef(0);
  const read = useRef({ sent: 0, at: 0, timer: null as ReturnType<typeof setTimeout> | null });

  const applyAck = useCallback(
    (message: MessageView) =>
      queryClient.setQueryData<MessagePages>(chatKeys.messages(roomId), (data) =>
        data ? upsertMessage(data, message) : data,
      ),
    [queryClient, roomId],
  );

  const actions: MessageActions = useMemo(
    () => ({
      reply: setReplyTo,
      edit: async (message, body) => {
        applyAck(await command("message.edit", { roomId, messageId: message.id, body }));
      },
      remove: async (message) => {
        applyAck(await command("message.delete", { roomId, messageId: message.id }));
      },
      react: (message, emoji, on) => {
        command("reaction.set", { roomId, messageId: message.id, emoji, on }).then(
          applyAck,
          () => undefined,
        );
      },
    }),
    [roomId, applyAck],
  );

  // Reading moves your read position (on every device): at once for the first message you
  // see, then throttled while a conversation streams in.
  const newestSeq = chat.messages.at(-1)?.seq ?? 0;
  const markRead = useCallback(() => {
    const state = read.current;
    if (document.visibilityState !== "visible" || newestSeq <= state.sent) return;
    const mark = () => {
      state.timer = null;
      state.at = Date.now();
      state.sent = newestSeq;
      command("read.mark", { roomId, seq: newestSeq }).catch(() => {
        state.sent = 0;
      });
    };
    const wait = state.at + READ_MARK_EVERY_MS - Date.now();
    if (wait <= 0) mark();
    else {
      if (state.timer) clearTimeout(state.timer);
      state.timer = setTimeout(mark, wait);
    }
  }, [roomId, newestSeq]);

  return (
    <section
      className={`${styles.panel} ${files.dropZoneClass}`}
      aria-label="Chat"
      {...files.dropTarget}
    >
      {files.overlay}
      {chat.error && (
        <p role="alert" className="alert">
          {chat.error}
        </p>
      )}
      <MessageList
        messages={chat.messages}
        pending={chat.pending}
        meId={meId}
        meName={meName}
        canModerate={canModerate}
        actions={actions}
        hasOlder={chat.hasOlder}
        loadingOlder={chat.loadingOlder}
        loadOlder={chat.loadOlder}
        retry={chat.retry}
        discard={chat.discard}
        onReachBottom={markRead}
        focusSeq={focusSeq}
      />
      <p className={styles.typing} aria-live="polite">
        {typingText(chat.typing)}
      </p>
      {files.draftView}
      <Composer
        maxLength={maxMessageLength}
        replyTo={replyTo}
        clearReply={() => setReplyTo(null)}
        mentionSlug={slug}
        {...files.composerProps}
        onSend={(body) => {
          files.send(body, replyTo ? { replyToId: replyTo.id } : {}, chat.send);
          setReplyTo(null);
        }}
        onTyping={() => {
          const now = Date.now();
          if (now - lastTyping.current < TYPING_EVERY_MS) return;
          lastTyping.current = now;
          command("typing.start", { roomId }).catch(() => undefined);
        }}
      >
        {files.controls}
      </Composer>
    </section>
  );
}

function typingText(names: string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return "Several people are typing…";
}
