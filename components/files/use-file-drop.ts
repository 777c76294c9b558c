"use client";

import { type DragEvent, useCallback, useMemo, useRef, useState } from "react";

/**
 * Makes an element a drop target for files: spread `props` on it and show something while
 * `active`. Only drags that carry files count, so dragging text around still works.
 */
export function useFileDrop(onFiles: (files: File[]) => void) {
  const depth = useRef(0);
  const [active, setActive] = useState(false);
  const hasFiles = (e: DragEvent) => [...e.dataTransfer.types].includes("Files");

  const onDragEnter = useCallback((e: DragEvent) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    // Enter and leave fire for every child crossed; count them to know when it really left.
    depth.current++;
    setActive(true);
  }, []);
  const onDragOver = useCallback((e: DragEvent) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = "copy";
  }, []);
  const onDragLeave = useCallback((e: DragEvent) => {
    if (!hasFiles(e)) return;
    depth.current = Math.max(0, depth.current - 1);
    if (depth.current === 0) setActive(false);
  }, []);
  const onDrop = useCallback(
    (e: DragEvent) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth.current = 0;
      setActive(false);
      const files = [...e.dataTransfer.files];
      if (files.length) onFiles(files);
    },
    [onFiles],
  );

  return useMemo(
    () => ({ active, props: { onDragEnter, onDragOver, onDragLeave, onDrop } }),
    [active, onDragEnter, onDragOver, onDragLeave, onDrop],
  );
}

/** The files in a paste (an image copied to the clipboard, files copied in a file manager). */
export function filesFromClipboard(data: DataTransfer): File[] {
  const files = [...data.files];
  if (files.length) return files;
  return [...data.items].flatMap((item) => {
    const file = item.kind === "file" ? item.getAsFile() : null;
    return file ? [file] : [];
  });
}
