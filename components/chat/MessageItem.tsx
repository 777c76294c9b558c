"use client";

import { type KeyboardEvent, memo, useCallback, useState } from "react";
import type { MessageView } from "@/lib/chat/schemas";
import { matches, shortcuts } from "@/lib/keyboard/shortcuts";
import { AttachmentList } from "@/components/files/AttachmentList";
import { LocalTime } from "@/components/ui/LocalTime";
import { Markdown } from "./Markdown";
import { QUICK_REACTIONS } from "./reactions";
import styles from "./Chat.module.css";

export interface MessageActions {
  reply(message: MessageView): void;
  /** Opens (a message's id) or closes (null) editing; one message at a time. */
  setEditing(messageId: string | null): void;
  /** Copies the message's permalink. */
  copyLink(message: MessageView): void;
  edit(message: MessageView, body: string): Promise<void>;
  remove(message: MessageView): Promise<void>;
  react(message: MessageView, emoji: string, on: boolean): void;
}

/** One message: author, time, reply quote, text, files, reactions and its actions. */
export const MessageItem = memo(function MessageItem({
  message,
  meId,
  canModerate,
  actions,
  grouped,
  current = false,
  editing = false,
}: {
  message: MessageView;
  meId: string;
  canModerate: boolean;
  actions: MessageActions;
  /** Follows a message by the same author shortly before: the header is not repeated visually. */
  grouped: boolean;
  /** The message the room was opened at (`?m=<seq>`): marked and highlighted. */
  current?: boolean;
  /** Being edited (Edit, or ↑ in an empty message box). */
  editing?: boolean;
}) {
  const [draft, setDraft] = useState(message.body);
  // Each edit starts from the message as it is.
  const [wasEditing, setWasEditing] = useState(editing);
  if (editing !== wasEditing) {
    setWasEditing(editing);
    if (editing) setDraft(message.body);
  }
  const [picking, setPicking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const mine = message.author.id === meId;
  const deleted = message.deletedAt !== null;

  // The edit box opens with the caret at the end, where an edit usually goes.
  const caretAtEnd = useCallback((el: HTMLTextAreaElement | null) => {
    el?.setSelectionRange(el.value.length, el.value.length);
  }, []);

  async function save() {
    setError(null);
    try {
      await actions.edit(message, draft);
      actions.setEditing(null);
    } catch (err) {
      setError(err instanceof Error ? err.message : "Could not save the edit");
    }
  }

  function onEditKey(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (matches(shortcuts.send, e)) {
      e.preventDefault();
      void save();
    } else if (e.key === "Escape") {
      // Handled: not also "mark the room read".
      e.preventDefault();
      actions.setEditing(null);
    }
  }

  return (
    <article
      className={`${styles.message} ${grouped ? styles.grouped : ""} ${current ? styles.current : ""}`}
      aria-labelledby={`author-${message.id}`}
      aria-current={current ? "true" : undefined}
      data-seq={message.seq}
      // Focusable by click or tap (not by Tab), so touch screens can reveal the actions.
      tabIndex={-1}
    >
      <header className={styles.messageHeader}>
        <span id={`author-${message.id}`} className={styles.author}>
          {message.author.displayName}
        </span>
        <LocalTime className={styles.time} dateTime={message.createdAt} style="time" withTitle />
        {message.editedAt && !deleted && <span className={styles.time}>(edited)</span>}
      </header>

      {message.replyTo && (
        <blockquote className={styles.quote}>
          <span className={styles.quoteAuthor}>{message.replyTo.authorName}</span>{" "}
          {message.replyTo.deleted ? <em>deleted message</em> : message.replyTo.excerpt}
        </blockquote>
      )}

      {deleted ? (
        <p className={`${styles.body} muted`}>
          <em>This message was deleted.</em>
        </p>
      ) : editing ? (
        <div className={styles.editBox}>
          <textarea
            className="input"
            aria-label="Edit message"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={onEditKey}
            rows={Math.min(8, draft.split("\n").length + 1)}
            autoFocus
            ref={caretAtEnd}
          />
          <div className={styles.editActions}>
            <button type="button" className="btn btn-small btn-primary" onClick={() => void save()}>
              Save
            </button>
            <button
              type="button"
              className="btn btn-small"
              onClick={() => actions.setEditing(null)}
            >
              Cancel
            </button>
          </div>
        </div>
      ) : (
        message.body && (
          <div className={styles.body} data-message-body>
            <Markdown text={message.body} />
          </div>
        )
      )}

      {!deleted && message.attachments.length > 0 && (
        <AttachmentList attachments={message.attachments} />
      )}

      {error && (
        <p role="alert" className={styles.inlineError}>
          {error}
        </p>
      )}

      {!deleted && message.reactions.length > 0 && (
        <div className={styles.reactions}>
          {message.reactions.map((r) => {
            const mineToo = r.userIds.includes(meId);
            return (
              <button
                key={r.emoji}
                type="button"
                className={`${styles.reaction} ${mineToo ? styles.reactionMine : ""}`}
                aria-pressed={mineToo}
                aria-label={`${r.emoji} ${r.count}`}
                onClick={() => actions.react(message, r.emoji, !mineToo)}
              >
                {r.emoji} <span>{r.count}</span>
              </button>
            );
          })}
        </div>
      )}

      {!deleted && !editing && (
        <div className={styles.actions} role="toolbar" aria-label="Message actions">
          <button
            type="button"
            className="btn btn-ghost btn-small"
            onClick={() => setPicking((p) => !p)}
            aria-expanded={picking}
          >
            React
          </button>
          <button
            type="button"
            className="btn btn-ghost btn-small"
            onClick={() => actions.reply(message)}
          >
            Reply
          </button>
          <button
            type="button"
            className="btn btn-ghost btn-small"
            onClick={() => actions.copyLink(message)}
          >
            Copy link
          </button>
          {mine && (
            <button
              type="button"
              className="btn btn-ghost btn-small"
              onClick={() => actions.setEditing(message.id)}
            >
              Edit
            </button>
          )}
          {(mine || canModerate) && (
            <button
              type="button"
              className="btn btn-ghost btn-small btn-danger"
              onClick={() => {
                if (window.confirm("Delete this message for everyone?")) {
                  actions
                    .remove(message)
                    .catch((err: unknown) =>
                      setError(err instanceof Error ? err.message : "Could not delete"),
                    );
                }
              }}
            >
              Delete
            </button>
          )}
        </div>
      )}
      {picking && (
        <div className={styles.picker} role="group" aria-label="Pick a reaction" data-popup>
          {QUICK_REACTIONS.map((emoji) => (
            <button
              key={emoji}
              type="button"
              className="btn btn-ghost btn-small"
              onClick={() => {
                setPicking(false);
                const already = message.reactions
                  .find((r) => r.emoji === emoji)
                  ?.userIds.includes(meId);
                actions.react(message, emoji, !already);
              }}
            >
              {emoji}
            </button>
          ))}
        </div>
      )}
    </article>
  );
});
