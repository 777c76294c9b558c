"use client";

import { useRef } from "react";
import styles from "./Files.module.css";
import { PaperclipIcon } from "./icons";

/**
 * `Attach file`: a button that opens the file chooser, over a hidden file input with the
 * same label (so both a person and a test driving the input find it). Several files at once.
 */
export function AttachButton({
  onFiles,
  disabled,
}: {
  onFiles(files: File[]): void;
  disabled?: boolean;
}) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <button
        type="button"
        className={`btn btn-ghost ${styles.iconButton}`}
        onClick={() => input.current?.click()}
        disabled={disabled}
        title="Attach files"
      >
        <PaperclipIcon />
        <span className="visually-hidden">Attach file</span>
      </button>
      <input
        ref={input}
        type="file"
        multiple
        hidden
        aria-label="Attach file"
        onChange={(e) => {
          const files = [...(e.target.files ?? [])];
          // Choosing the same file again must fire change again.
          e.target.value = "";
          if (files.length) onFiles(files);
        }}
      />
    </>
  );
}
