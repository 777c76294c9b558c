"use client";

import { useState } from "react";
import { attachmentKind } from "@/lib/files/media-types";
import type { AttachmentView } from "@/lib/files/schemas";
import { formatBytes, typeLabel } from "./format";
import { FileIcon } from "./icons";
import { ImageViewer } from "./ImageViewer";
import { downloadUrl, fileUrl, thumbnailUrl } from "./urls";
import styles from "./Files.module.css";

/**
 * The files a message shares. Every file is a link named by its file name, with its size
 * and type beside it; an image with a preview also shows its thumbnail (alt = file name),
 * which opens the full image; video and audio play inline.
 */
export function AttachmentList({ attachments }: { attachments: AttachmentView[] }) {
  const [viewing, setViewing] = useState<AttachmentView | null>(null);
  return (
    <ul className={styles.attachments}>
      {attachments.map((a) => (
        <li key={a.id} className={styles.attachment}>
          <Preview attachment={a} open={() => setViewing(a)} />
          <FileLink attachment={a} />
        </li>
      ))}
      {viewing && <ImageViewer attachment={viewing} onClose={() => setViewing(null)} />}
    </ul>
  );
}

function Preview({ attachment: a, open }: { attachment: AttachmentView; open(): void }) {
  const kind = attachmentKind(a.mimeType);
  if (kind === "image" && a.hasThumbnail) {
    const size = fitInside(a.width, a.height, 320, 240);
    return (
      <button
        type="button"
        className={styles.thumbnailButton}
        onClick={open}
        title="View full size"
      >
        {/* eslint-disable-next-line @next/next/no-img-element -- access-checked API route, not a static asset */}
        <img
          className={styles.thumbnail}
          src={thumbnailUrl(a.id)}
          alt={a.name}
          width={size?.width}
          height={size?.height}
          loading="lazy"
        />
      </button>
    );
  }
  if (kind === "video") {
    return (
      <video
        className={styles.video}
        src={fileUrl(a.id)}
        controls
        preload="metadata"
        aria-label={a.name}
      />
    );
  }
  if (kind === "audio") {
    return (
      <audio
        className={styles.audio}
        src={fileUrl(a.id)}
        controls
        preload="metadata"
        aria-label={a.name}
      />
    );
  }
  return null;
}

function FileLink({ attachment: a }: { attachment: AttachmentView }) {
  return (
    <div className={styles.fileRow}>
      <span className={styles.fileIcon}>
        <FileIcon />
      </span>
      <a className={styles.fileName} href={downloadUrl(a.id)} download={a.name}>
        {a.name}
      </a>
      <span className={styles.fileMeta}>
        {formatBytes(a.size)} · {typeLabel(a.mimeType)}
      </span>
    </div>
  );
}

/** The size that fits `width`×`height` inside max×max, keeping its shape (no layout jump). */
export function fitInside(
  width: number | null,
  height: number | null,
  maxWidth: number,
  maxHeight: number,
): { width: number; height: number } | null {
  if (!width || !height) return null;
  const scale = Math.min(1, maxWidth / width, maxHeight / height);
  return { width: Math.round(width * scale), height: Math.round(height * scale) };
}
