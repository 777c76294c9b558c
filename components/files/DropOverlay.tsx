"use client";

import styles from "./Files.module.css";

/** Shown over the chat while files are dragged onto it. */
export function DropOverlay() {
  return (
    <div className={styles.dropOverlay} aria-hidden="true">
      Drop files to share them
    </div>
  );
}

/** The class a drop target needs so the overlay covers it. */
export const dropZoneClass = styles.dropZone;
