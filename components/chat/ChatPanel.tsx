"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { upsertMessage } from "@/lib/chat/cache";
import { updateMessages } from "@/lib/chat/client/keys";
import { messagePath } from "@/lib/chat/permalink";
import type { MessageView } from "@/lib/chat/schemas";
import { useChatFiles } from "@/components/files/use-chat-files";
import { matches, popupOpen, shortcuts } from "@/lib/keyboard/shortcuts";
import { command } from "@/lib/realtime/client";
import { copyText } from "@/components/ui/clipboard";
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
  linkError,
  slug,
}: {
  chat: RoomChat;
  roomId: string;
  meId: string;
  meName: string;
  canModerate: boolean;
  maxMessageLength: number;
  /** The room was opened by a link to a message that is not in it. */
  linkError?: string;
  /** The room's link: permalinks, and the `@` autocomplete asks for its members. */
  slug: string;
}) {
  const queryClient = useQueryClient();
  const [replyTo, setReplyTo] = useState<MessageView | null>(null);
  const [editingId, setEditingId] = useState<string | null>(null);
  const [status, setStatus] = useState("");
  const [followRequest, setFollowRequest] = useState(0);
  const files = useChatFiles(roomId);
  const lastTyping = useRef(0);
  const composerBox = useRef<HTMLTextAreaElement>(null);
  const read = useRef({ sent: 0, at: 0, timer: null as ReturnType<typeof setTimeout> | null });

  const applyAck = useCallback(
    (message: MessageView) =>
      updateMessages(queryClient, roomId, (data) => upsertMessage(data, message)),
    [queryClient, roomId],
  );

  const announce = useCallback((text: string) => {
    setStatus(text);
    setTimeout(() => setStatus((now) => (now === text ? "" : now)), 2500);
  }, []);

  const { jumpToLatest: loadLatest } = chat;
  /** To the live end: the newest messages as the window, scrolled to the bottom. */
  const jumpToLatest = useCallback(() => {
    setFollowRequest((n) => n + 1);
    return loadLatest();
  }, [loadLatest]);

  const actions: MessageActions = useMemo(
    () => ({
      reply: setReplyTo,
      setEditing: (messageId) => {
        setEditingId(messageId);
        // Done editing: back to writing.
        if (messageId === null) composerBox.current?.focus();
      },
      copyLink: (message) => {
        const url = new URL(messagePath(slug, message.seq), window.location.origin).toString();
        void copyText(url, "Copy this link to the message").then(
          (copied) => copied && announce("Link copied"),
        );
      },
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
    [roomId, applyAck, slug, announce],
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

  // Esc: the whole room read, through the newest event this page knows of (as Slack does).
  const { appliedSeq } = chat;
  const markRoomRead = useCallback(() => {
    const seq = appliedSeq();
    if (seq <= 0) return;
    const state = read.current;
    state.sent = Math.max(state.sent, seq);
    command("read.mark", { roomId, seq }).then(
      () => announce("Marked as read"),
      () => undefined,
    );
  }, [roomId, appliedSeq, announce]);
  useEscMarksRead(markRoomRead);

  // ↑ in the empty box: edit your last message (at the live end, where it is).
  const { live, messages } = chat;
  const editLast = useCallback(async () => {
    const list = live ? messages : await jumpToLatest();
    const mine = list.findLast((m) => m.author.id === meId && !m.deletedAt);
    if (mine) setEditingId(mine.id);
  }, [live, messages, jumpToLatest, meId]);

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
      {linkError && (
        <p role="alert" className="alert">
          {linkError}
        </p>
      )}
      <p role="status" className="visually-hidden">
        {status}
      </p>
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
        hasNewer={chat.hasNewer}
        loadingNewer={chat.loadingNewer}
        loadNewer={chat.loadNewer}
        live={chat.live}
        unseen={chat.unseen}
        jumpToLatest={() => void jumpToLatest()}
        followRequest={followRequest}
        retry={chat.retry}
        discard={chat.discard}
        onReachBottom={markRead}
        focusSeq={chat.focusSeq}
        openingId={chat.openingId}
        editingId={editingId}
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
        boxRef={composerBox}
        onEditLast={() => void editLast()}
        {...files.composerProps}
        onSend={(body) => {
          // Your message goes to the live end, and so do you (as in Slack).
          void jumpToLatest();
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

/**
 * `Esc` marks the room read when no popup is open. Whether one was is read as the key goes
 * down (capture), before a handler closes it; a handler that used the key (closing a
 * reply, an edit) prevents its default, and then this does nothing.
 */
function useEscMarksRead(markRoomRead: () => void) {
  const mark = useRef(markRoomRead);
  useEffect(() => {
    mark.current = markRoomRead;
  }, [markRoomRead]);
  useEffect(() => {
    let popupWasOpen = false;
    const capture = (e: KeyboardEvent) => {
      if (e.key === "Escape") popupWasOpen = popupOpen();
    };
    const bubble = (e: KeyboardEvent) => {
      if (matches(shortcuts.markRoomRead, e) && !e.defaultPrevented && !popupWasOpen)
        mark.current();
    };
    window.addEventListener("keydown", capture, true);
    window.addEventListener("keydown", bubble);
    return () => {
      window.removeEventListener("keydown", capture, true);
      window.removeEventListener("keydown", bubble);
    };
  }, []);
}

function typingText(names: string[]): string {
  if (names.length === 0) return "";
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return "Several people are typing…";
}
