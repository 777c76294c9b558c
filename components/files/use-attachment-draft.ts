"use client";

import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { FileUpload, type UploadState } from "@/lib/files/client/upload-client";
import { MAX_ATTACHMENTS_PER_MESSAGE } from "@/lib/files/schemas";

export interface DraftFile {
  key: string;
  name: string;
  size: number;
  /** A local preview for images, made from the file itself. */
  previewUrl: string | null;
  state: UploadState;
}

export interface AttachmentDraft {
  files: DraftFile[];
  /** Shown when files cannot be added (too many for one message). */
  notice: string | null;
  /** Send was pressed: the message goes out when the uploads finish. */
  waiting: boolean;
  /** Starts uploading each file at once; the message waits for them. */
  add(files: File[]): void;
  /** Cancels an upload in progress, or takes back a finished one. */
  remove(key: string): void;
  /**
   * The attachment ids to send, once every upload has finished; clears the draft. Files
   * that failed stay in the draft with their error, and are not sent.
   */
  takeForSending(): Promise<string[]>;
}

/**
 * The files attached to the message being written: uploads start as soon as files are
 * picked, dropped or pasted, each with its own progress and cancel.
 */
export function useAttachmentDraft(roomId: string): AttachmentDraft {
  const uploads = useRef(new Map<string, FileUpload>());
  const [files, setFiles] = useState<DraftFile[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const [waiting, setWaiting] = useState(false);

  const update = useCallback((key: string, state: UploadState) => {
    setFiles((list) => list.map((f) => (f.key === key ? { ...f, state } : f)));
  }, []);

  const add = useCallback(
    (picked: File[]) => {
      const room = MAX_ATTACHMENTS_PER_MESSAGE - uploads.current.size;
      setNotice(
        picked.length > room
          ? `A message can carry at most ${MAX_ATTACHMENTS_PER_MESSAGE} files`
          : null,
      );
      const added: DraftFile[] = [];
      for (const file of picked.slice(0, Math.max(0, room))) {
        const upload: FileUpload = new FileUpload(file, roomId, (state) =>
          update(upload.key, state),
        );
        uploads.current.set(upload.key, upload);
        added.push({
          key: upload.key,
          name: file.name || "file",
          size: file.size,
          previewUrl: file.type.startsWith("image/") ? URL.createObjectURL(file) : null,
          state: upload.current,
        });
      }
      setFiles((list) => [...list, ...added]);
      // Only now: a file refused at once (empty) updates an item that is already listed.
      for (const { key } of added) uploads.current.get(key)?.start();
    },
    [roomId, update],
  );

  const forget = useCallback((keys: string[]) => {
    setFiles((list) => {
      for (const f of list)
        if (keys.includes(f.key) && f.previewUrl) URL.revokeObjectURL(f.previewUrl);
      return list.filter((f) => !keys.includes(f.key));
    });
    for (const key of keys) uploads.current.delete(key);
  }, []);

  const remove = useCallback(
    (key: string) => {
      void uploads.current.get(key)?.cancel();
      forget([key]);
    },
    [forget],
  );

  const takeForSending = useCallback(async () => {
    const pending = [...uploads.current.values()];
    setWaiting(true);
    const results = await Promise.allSettled(pending.map((u) => u.done));
    setWaiting(false);
    const sent = pending.filter((_, i) => results[i]!.status === "fulfilled");
    forget(sent.map((u) => u.key));
    return results.flatMap((r) => (r.status === "fulfilled" ? [r.value.id] : []));
  }, [forget]);

  // Leaving the room cancels what was never sent.
  useEffect(() => {
    const current = uploads.current;
    return () => {
      for (const upload of current.values()) void upload.cancel();
      current.clear();
    };
  }, []);

  return useMemo(
    () => ({ files, notice, waiting, add, remove, takeForSending }),
    [files, notice, waiting, add, remove, takeForSending],
  );
}
