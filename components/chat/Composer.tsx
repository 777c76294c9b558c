"use client";

import { type FormEvent, type KeyboardEvent, useRef, useState } from "react";
import { filesFromClipboard } from "@/components/files/use-file-drop";
import type { MessageView } from "@/lib/chat/schemas";
import styles from "./Chat.module.css";

/**
 * The message box: Enter sends, Shift+Enter adds a line. Shows what you are replying to,
 * refuses a message over the room's length limit with an alert, and tells the room you are
 * typing (throttled by the caller).
 */
export function Composer({
  onSend,
  onTyping,
  replyTo,
  clearReply,
  maxLength,
  canSendEmpty = false,
  onPasteFiles,
  children,
}: {
  onSend(body: string): void;
  onTyping(): void;
  replyTo: MessageView | null;
  clearReply(): void;
  maxLength: number;
  /** Files are attached, so a caption is optional. */
  canSendEmpty?: boolean;
  /** Files pasted into the box (an image from the clipboard) are attached. */
  onPasteFiles?(files: File[]): void;
  /** Extra controls beside the box (attachments). */
  children?: React.ReactNode;
}) {
  const [body, setBody] = useState("");
  const [error, setError] = useState<string | null>(null);
  const box = useRef<HTMLTextAreaElement>(null);
  const length = body.trim().length;
  const over = length > maxLength;

  function send(e?: FormEvent) {
    e?.preventDefault();
    if (!body.trim() && !canSendEmpty) return;
    if (over) {
      setError(`A message is at most ${maxLength} characters (this one has ${length})`);
      return;
    }
    setError(null);
    onSend(body);
    setBody("");
    box.current?.focus();
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    } else if (e.key === "Escape" && replyTo) {
      clearReply();
    }
  }

  return (
    <form className={styles.composer} onSubmit={send}>
      {replyTo && (
        <div className={styles.replyBanner}>
          <span>
            Replying to <strong>{replyTo.author.displayName}</strong>
          </span>
          <button type="button" className="btn btn-ghost btn-small" onClick={clearReply}>
            Cancel reply
          </button>
        </div>
      )}
      {error && (
        <p role="alert" className={styles.inlineError}>
          {error}
        </p>
      )}
      <div className={styles.composerRow}>
        {children}
        <textarea
          ref={box}
          className={`input ${styles.textbox}`}
          aria-label="Message"
          placeholder={canSendEmpty ? "Add a caption (optional)…" : "Write a message…"}
          rows={1}
          value={body}
          onChange={(e) => {
            setBody(e.target.value);
            if (error && e.target.value.trim().length <= maxLength) setError(null);
            if (e.target.value) onTyping();
          }}
          onKeyDown={onKeyDown}
          onPaste={(e) => {
            const files = onPasteFiles ? filesFromClipboard(e.clipboardData) : [];
            if (files.length === 0) return;
            e.preventDefault();
            onPasteFiles?.(files);
          }}
        />
        <button type="submit" className="btn btn-primary" disabled={!body.trim() && !canSendEmpty}>
          Send
        </button>
      </div>
      {length > maxLength * 0.9 && (
        <p className={`${styles.counter} ${over ? styles.counterOver : ""}`}>
          {length} / {maxLength}
        </p>
      )}
    </form>
  );
}
