"use client";

import { useEffect, useRef } from "react";
import type { AttachmentView } from "@/lib/files/schemas";
import { downloadUrl, fileUrl } from "./urls";
import styles from "./Files.module.css";

/** An image at full size in a modal dialog; Escape, the backdrop or Close dismiss it. */
export function ImageViewer({
  attachment,
  onClose,
}: {
  attachment: AttachmentView;
  onClose(): void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const node = dialog.current;
    if (node && !node.open) node.showModal();
    return () => node?.close();
  }, []);
  return (
    <dialog
      ref={dialog}
      className={styles.viewer}
      aria-label={attachment.name}
      onClose={onClose}
      onClick={(e) => {
        // A click on the backdrop lands on the dialog itself.
        if (e.target === e.currentTarget) onClose();
      }}
    >
      <div className={styles.viewerBar}>
        <span className={styles.viewerTitle}>{attachment.name}</span>
        <a className="btn btn-small" href={downloadUrl(attachment.id)} download={attachment.name}>
          Download
        </a>
        <button type="button" className="btn btn-small" onClick={onClose} autoFocus>
          Close
        </button>
      </div>
      {/* eslint-disable-next-line @next/next/no-img-element -- access-checked API route */}
      <img
        className={styles.viewerImage}
        src={fileUrl(attachment.id)}
        alt={attachment.name}
        width={attachment.width ?? undefined}
        height={attachment.height ?? undefined}
      />
    </dialog>
  );
}
