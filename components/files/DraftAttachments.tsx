"use client";

import type { AttachmentDraft, DraftFile } from "./use-attachment-draft";
import { formatBytes } from "./format";
import styles from "./Files.module.css";

/** The files attached to the message being written, each with its progress and a cancel. */
export function DraftAttachments({ draft }: { draft: AttachmentDraft }) {
  if (draft.files.length === 0 && !draft.notice) return null;
  return (
    <div className={styles.draft}>
      {draft.notice && (
        <p role="alert" className={styles.draftNotice}>
          {draft.notice}
        </p>
      )}
      {draft.files.length > 0 && (
        <ul className={styles.draftList} aria-label="Attached files">
          {draft.files.map((file) => (
            <DraftItem
              key={file.key}
              file={file}
              waiting={draft.waiting}
              remove={() => draft.remove(file.key)}
            />
          ))}
        </ul>
      )}
    </div>
  );
}

function DraftItem({
  file,
  waiting,
  remove,
}: {
  file: DraftFile;
  waiting: boolean;
  remove(): void;
}) {
  const { state } = file;
  return (
    <li className={styles.draftItem}>
      {file.previewUrl && (
        // A local preview of what is being sent; decorative, the name says what it is.
        // eslint-disable-next-line @next/next/no-img-element -- blob: URL
        <img className={styles.draftPreview} src={file.previewUrl} alt="" />
      )}
      <div className={styles.draftBody}>
        <span className={styles.draftName}>{file.name}</span>
        {state.status === "uploading" && (
          <>
            <progress
              className={styles.progress}
              aria-label={`Uploading ${file.name}`}
              max={state.total || 1}
              value={state.sent}
            />
            <span className={styles.fileMeta}>
              {formatBytes(state.sent)} of {formatBytes(state.total)}
              {waiting ? " · sends when uploaded" : ""}
            </span>
          </>
        )}
        {state.status === "done" && (
          <span className={styles.fileMeta}>{formatBytes(file.size)} · ready</span>
        )}
        {state.status === "failed" && (
          <span role="alert" className={styles.draftError}>
            {state.message}
          </span>
        )}
      </div>
      <button
        type="button"
        className="btn btn-ghost btn-small"
        aria-label={`${state.status === "uploading" ? "Cancel upload of" : "Remove"} ${file.name}`}
        onClick={remove}
      >
        {state.status === "uploading" ? "Cancel" : "Remove"}
      </button>
    </li>
  );
}
