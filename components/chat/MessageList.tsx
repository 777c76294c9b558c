"use client";

import { useEffect, useLayoutEffect, useRef } from "react";
import type { OutboxItem } from "@/lib/chat/client/outbox";
import type { MessageView } from "@/lib/chat/schemas";
import { Markdown } from "./Markdown";
import { type MessageActions, MessageItem } from "./MessageItem";
import styles from "./Chat.module.css";

const GROUP_WINDOW_MS = 5 * 60 * 1000;
const NEAR_BOTTOM_PX = 120;

/**
 * The conversation, oldest first, then the messages still in the outbox. Scrolling to the
 * top loads older history (keeping the view where it was); new messages scroll into view
 * when the reader is already at the bottom.
 */
export function MessageList({
  messages,
  pending,
  meId,
  meName,
  canModerate,
  actions,
  hasOlder,
  loadingOlder,
  loadOlder,
  retry,
  discard,
  onReachBottom,
  focusSeq,
}: {
  messages: MessageView[];
  pending: OutboxItem[];
  meId: string;
  meName: string;
  canModerate: boolean;
  actions: MessageActions;
  hasOlder: boolean;
  loadingOlder: boolean;
  loadOlder(): void;
  retry(clientId: string): void;
  discard(clientId: string): void;
  onReachBottom(): void;
  /** Opened at this message (`?m=<seq>`): scroll to it and mark it current. */
  focusSeq?: number;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const sentinel = useRef<HTMLDivElement>(null);
  // Opened at a message: not at the bottom, so nothing below it counts as read yet.
  const atBottom = useRef(focusSeq === undefined);
  const focusDone = useRef(focusSeq === undefined);
  const previous = useRef<{ height: number; firstId: string | undefined }>({
    height: 0,
    firstId: undefined,
  });

  // Older page prepended: keep what the reader was looking at in place.
  // New message at the end: follow it if the reader was at the bottom.
  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const firstId = messages[0]?.id;
    if (previous.current.firstId && firstId !== previous.current.firstId && !atBottom.current) {
      el.scrollTop += el.scrollHeight - previous.current.height;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    previous.current = { height: el.scrollHeight, firstId };
  }, [messages, pending]);

  useEffect(() => {
    const el = sentinel.current;
    const root = scroller.current;
    if (!el || !root || !hasOlder) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) loadOlder();
      },
      { root, rootMargin: "200px 0px 0px 0px" },
    );
    observer.observe(el);
    return () => observer.disconnect();
  }, [hasOlder, loadOlder]);

  // Opened at a message: page older history until it is there, then bring it into view.
  useEffect(() => {
    if (focusDone.current || focusSeq === undefined) return;
    if (!messages.some((m) => m.seq === focusSeq)) {
      const oldest = messages[0]?.seq;
      if (hasOlder && oldest !== undefined && oldest > focusSeq) {
        if (!loadingOlder) loadOlder();
        return;
      }
      // Not in this room's history (deleted, or not a message): show the newest instead.
      focusDone.current = true;
      atBottom.current = true;
      if (scroller.current) scroller.current.scrollTop = scroller.current.scrollHeight;
      return;
    }
    const el = scroller.current?.querySelector<HTMLElement>(`[data-seq="${focusSeq}"]`);
    if (!el) return;
    focusDone.current = true;
    el.scrollIntoView({ block: "center" });
    el.focus({ preventScroll: true });
  }, [messages, focusSeq, hasOlder, loadingOlder, loadOlder]);

  useEffect(() => {
    if (atBottom.current) onReachBottom();
  }, [messages, onReachBottom]);

  return (
    <div
      ref={scroller}
      className={styles.scroller}
      onScroll={(e) => {
        const el = e.currentTarget;
        const was = atBottom.current;
        atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
        if (atBottom.current && !was) onReachBottom();
      }}
    >
      <div ref={sentinel} className={styles.sentinel}>
        {loadingOlder
          ? "Loading earlier messages…"
          : hasOlder
            ? ""
            : messages.length
              ? "This is the beginning of the room."
              : ""}
      </div>
      <div role="log" aria-label="Messages" aria-live="polite" className={styles.log}>
        {messages.length === 0 && pending.length === 0 && (
          <p className={`muted ${styles.emptyLog}`}>No messages yet. Say hello!</p>
        )}
        {messages.map((m, i) => {
          const prev = messages[i - 1];
          const grouped =
            !!prev &&
            prev.author.id === m.author.id &&
            !prev.deletedAt &&
            !m.replyTo &&
            Date.parse(m.createdAt) - Date.parse(prev.createdAt) < GROUP_WINDOW_MS;
          return (
            <MessageItem
              key={m.id}
              message={m}
              meId={meId}
              canModerate={canModerate}
              actions={actions}
              grouped={grouped}
              current={m.seq === focusSeq}
            />
          );
        })}
        {pending.map((item) => (
          <article
            key={item.clientId}
            className={`${styles.message} ${styles.pending}`}
            aria-labelledby={`author-${item.clientId}`}
          >
            <header className={styles.messageHeader}>
              <span id={`author-${item.clientId}`} className={styles.author}>
                {meName}
              </span>
              {item.status === "pending" ? (
                <span className={styles.status}>Sending</span>
              ) : (
                <span className={`${styles.status} ${styles.failed}`}>Not sent</span>
              )}
            </header>
            <div className={styles.body} data-message-body>
              <Markdown text={item.body} />
            </div>
            {item.status === "failed" && (
              <div className={styles.failedRow}>
                {item.error && <span className={styles.inlineError}>{item.error}</span>}
                <button
                  type="button"
                  className="btn btn-small"
                  onClick={() => retry(item.clientId)}
                >
                  Retry
                </button>
                <button
                  type="button"
                  className="btn btn-small btn-ghost"
                  onClick={() => discard(item.clientId)}
                >
                  Discard
                </button>
              </div>
            )}
          </article>
        ))}
      </div>
    </div>
  );
}
