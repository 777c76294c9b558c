"use client";

import { type FormEvent, type KeyboardEvent, useLayoutEffect, useRef, useState } from "react";
import { filesFromClipboard } from "@/components/files/use-file-drop";
import type { MessageView } from "@/lib/chat/schemas";
import { matches, shortcuts } from "@/lib/keyboard/shortcuts";
import styles from "./Chat.module.css";
import { type MentionOption, useMentions } from "./use-mentions";

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
  mentionSlug,
  onEditLast,
  boxRef,
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
  /** The room whose members `@` offers (unset: no autocomplete). */
  mentionSlug?: string;
  /** ↑ in the empty box: edit your last message. */
  onEditLast?(): void;
  /** The textbox, for the room to put the caret back in it. */
  boxRef?: React.RefObject<HTMLTextAreaElement | null>;
  /** Extra controls beside the box (attachments). */
  children?: React.ReactNode;
}) {
  const mentions = useMentions(mentionSlug);
  const [body, setBody] = useState("");
  const [error, setError] = useState<string | null>(null);
  const ownBox = useRef<HTMLTextAreaElement>(null);
  const box = boxRef ?? ownBox;
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
    onSend(mentions.toMarkdown(body));
    setBody("");
    mentions.close();
    box.current?.focus();
  }

  /**
   * Where the caret goes once the box shows a chosen mention. Placed in the same commit as
   * the new value, before the browser handles another key: placed a frame later, it
   * jumped back over whatever was typed meanwhile ("@Ada lo" + "ok at this" became
   * "@Ada ok at thislo").
   */
  const caretAfterMention = useRef<number | null>(null);
  useLayoutEffect(() => {
    const caret = caretAfterMention.current;
    if (caret === null) return;
    caretAfterMention.current = null;
    box.current?.focus();
    box.current?.setSelectionRange(caret, caret);
  }, [body, box]);

  function applyMention(option: MentionOption) {
    const next = mentions.choose(option, body, box.current?.selectionStart ?? body.length);
    if (next.value === body) return; // nothing was chosen (no `@` query open)
    caretAfterMention.current = next.caret;
    setBody(next.value);
  }

  function onKeyDown(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (mentions.onKeyDown(e, applyMention)) return;
    if (matches(shortcuts.send, e) && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    } else if (e.key === "Escape" && replyTo) {
      // Handled: not also "mark the room read".
      e.preventDefault();
      clearReply();
    } else if (matches(shortcuts.editLastMessage, e) && body === "" && onEditLast) {
      e.preventDefault();
      onEditLast();
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
      {mentions.open && (
        <ul id={mentions.listId} role="listbox" aria-label="Mention" className={styles.mentionList}>
          {mentions.options.map((o, i) => (
            <li
              key={o.id}
              id={mentions.optionId(i)}
              role="option"
              aria-selected={i === mentions.active}
              className={styles.mentionOption}
              // Keep the caret in the box: choose on press, before it would blur.
              onMouseDown={(e) => {
                e.preventDefault();
                applyMention(o);
              }}
            >
              {o.id === "room" ? "@room — everyone here" : o.label}
            </li>
          ))}
        </ul>
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
          aria-autocomplete={mentionSlug ? "list" : undefined}
          aria-controls={mentions.open ? mentions.listId : undefined}
          aria-activedescendant={mentions.open ? mentions.optionId(mentions.active) : undefined}
          onSelect={(e) =>
            mentions.update(e.currentTarget.value, e.currentTarget.selectionStart ?? 0)
          }
          onBlur={() => mentions.close()}
          onChange={(e) => {
            setBody(e.target.value);
            mentions.update(e.target.value, e.target.selectionStart ?? e.target.value.length);
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
