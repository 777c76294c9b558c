"use client";

import type { AttachmentView } from "@/lib/files/schemas";
import { Modal } from "@/components/ui/Modal";
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
  return (
    <Modal className={styles.viewer} label={attachment.name} onClose={onClose}>
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
    </Modal>
  );
}
