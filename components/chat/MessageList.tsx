"use client";

import { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import type { OutboxItem } from "@/lib/chat/client/outbox";
import type { MessageView } from "@/lib/chat/schemas";
import { Markdown } from "./Markdown";
import { type MessageActions, MessageItem } from "./MessageItem";
import styles from "./Chat.module.css";

const GROUP_WINDOW_MS = 5 * 60 * 1000;
const NEAR_BOTTOM_PX = 120;

/**
 * The conversation, oldest first, then the messages still in the outbox. It shows a window
 * of the room's history (components/chat/use-room-chat.ts): scrolling to its top loads older
 * messages, to its bottom newer ones when it does not reach the live end, and whatever is
 * added or dropped at either end, the message the reader is looking at stays where it is.
 * At the live end and at the bottom, new messages scroll into view. Opened at a message, it
 * shows that message in the middle, marked current and focused. `Jump to latest` goes to
 * the live end from anywhere.
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
  hasNewer,
  loadingNewer,
  loadNewer,
  live,
  unseen,
  jumpToLatest,
  followRequest,
  retry,
  discard,
  onReachBottom,
  focusSeq,
  openingId,
  editingId,
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
  hasNewer: boolean;
  loadingNewer: boolean;
  loadNewer(): void;
  /** The window reaches the live end. */
  live: boolean;
  /** Others' messages that arrived beyond the window. */
  unseen: number;
  jumpToLatest(): void;
  /** Changes when the room asks to go to the live end (`Jump to latest`, a send). */
  followRequest: number;
  retry(clientId: string): void;
  discard(clientId: string): void;
  onReachBottom(): void;
  /** Opened at this message (`?m=<seq>`): shown in the middle and marked current. */
  focusSeq?: number;
  /** Changes with every opening of the room (a new window). */
  openingId: string;
  /** The message being edited. */
  editingId: string | null;
}) {
  const scroller = useRef<HTMLDivElement>(null);
  const top = useRef<HTMLDivElement>(null);
  const bottom = useRef<HTMLDivElement>(null);
  /** Stuck to the bottom: new messages at the live end scroll into view. */
  const follow = useRef(focusSeq === undefined);
  /** On the way to the live end: stay stuck to the bottom until the window is live. */
  const jumping = useRef(false);
  /** The first message in view and its distance from the top: kept there across changes. */
  const anchor = useRef<{ seq: string; offset: number } | null>(null);
  /** Scrolled to the bottom of what is loaded: all of it has been in view. */
  const atEnd = useRef(focusSeq === undefined);
  const [nearBottom, setNearBottom] = useState(focusSeq === undefined);
  const liveRef = useRef(live);
  useLayoutEffect(() => {
    liveRef.current = live;
  }, [live]);

  /** Where the reader is now: at the end or not, and the message to keep in place. */
  const measure = useCallback(() => {
    const root = scroller.current;
    if (!root) return;
    atEnd.current = root.scrollHeight - root.scrollTop - root.clientHeight < NEAR_BOTTOM_PX;
    follow.current = atEnd.current && (liveRef.current || jumping.current);
    setNearBottom(atEnd.current);
    const items = root.querySelectorAll<HTMLElement>("[data-seq]");
    const rootTop = root.getBoundingClientRect().top;
    // Messages are in order: the first whose bottom is below the top edge, by bisection.
    let lo = 0;
    let hi = items.length - 1;
    let found: HTMLElement | null = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const el = items[mid]!;
      if (el.getBoundingClientRect().bottom > rootTop) {
        found = el;
        hi = mid - 1;
      } else lo = mid + 1;
    }
    anchor.current = found
      ? { seq: found.dataset.seq!, offset: found.getBoundingClientRect().top - rootTop }
      : null;
  }, []);

  // Messages added or dropped at either end: stuck to the bottom, stay there; otherwise
  // keep the anchor message where it was.
  useLayoutEffect(() => {
    const root = scroller.current;
    if (!root) return;
    if (follow.current) {
      root.scrollTop = root.scrollHeight;
    } else if (anchor.current) {
      const el = root.querySelector<HTMLElement>(`[data-seq="${anchor.current.seq}"]`);
      if (el) {
        const offset = el.getBoundingClientRect().top - root.getBoundingClientRect().top;
        root.scrollTop += offset - anchor.current.offset;
      }
    }
    measure();
  }, [messages, pending, measure]);

  // A new opening: at the message it points at (in the middle, focused), else the bottom.
  useLayoutEffect(() => {
    const root = scroller.current;
    if (!root) return;
    const target =
      focusSeq === undefined ? null : root.querySelector<HTMLElement>(`[data-seq="${focusSeq}"]`);
    if (target) {
      follow.current = false;
      target.scrollIntoView({ block: "center" });
      target.focus({ preventScroll: true });
    } else {
      follow.current = true;
      root.scrollTop = root.scrollHeight;
    }
    measure();
    // Only when the opening changes: later changes to the list keep the reader's place.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [openingId]);

  // Asked to go to the live end: stuck to the bottom from now on, through the new window.
  const lastRequest = useRef(followRequest);
  useLayoutEffect(() => {
    if (followRequest === lastRequest.current) return;
    lastRequest.current = followRequest;
    follow.current = true;
    jumping.current = !live;
    const root = scroller.current;
    if (root) root.scrollTop = root.scrollHeight;
  }, [followRequest, live]);
  useEffect(() => {
    if (live) jumping.current = false;
  }, [live]);

  // The ends of the window: in (or near) view, load the next page that way.
  useEffect(() => {
    const root = scroller.current;
    const observers: IntersectionObserver[] = [];
    const watch = (el: HTMLElement | null, load: () => void, margin: string) => {
      if (!el || !root) return;
      const observer = new IntersectionObserver(
        (entries) => {
          if (entries.some((e) => e.isIntersecting)) load();
        },
        { root, rootMargin: margin },
      );
      observer.observe(el);
      observers.push(observer);
    };
    if (hasOlder && !loadingOlder) watch(top.current, loadOlder, "200px 0px 0px 0px");
    // Not while on the way to the live end: that window replaces this one.
    if (hasNewer && !loadingNewer)
      watch(bottom.current, () => jumping.current || loadNewer(), "0px 0px 200px 0px");
    return () => observers.forEach((o) => o.disconnect());
  }, [hasOlder, loadingOlder, loadOlder, hasNewer, loadingNewer, loadNewer]);

  // What is in view at the end of the list has been read (never what is beyond it).
  useEffect(() => {
    if (atEnd.current) onReachBottom();
  }, [messages, nearBottom, onReachBottom]);

  const showJump = !live || !nearBottom;
  return (
    <div className={styles.listArea}>
      <div ref={scroller} className={styles.scroller} onScroll={measure}>
        <div ref={top} className={styles.sentinel}>
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
                editing={m.id === editingId}
              />
            );
          })}
          {hasNewer && (
            // Inside the log, between the window and your messages still on their way.
            <div ref={bottom} className={styles.sentinel} aria-hidden="true">
              {loadingNewer ? "Loading newer messages…" : ""}
            </div>
          )}
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
      <p role="status" className="visually-hidden">
        {unseen > 0 ? `${unseen} new ${unseen === 1 ? "message" : "messages"} below` : ""}
      </p>
      {showJump && (
        <button type="button" className={`btn btn-small ${styles.jump}`} onClick={jumpToLatest}>
          Jump to latest
          {unseen > 0 && (
            <span aria-hidden="true" className={styles.jumpCount}>
              {unseen} new
            </span>
          )}
        </button>
      )}
    </div>
  );
}
