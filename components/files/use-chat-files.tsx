"use client";

import { useMemo } from "react";
import { AttachButton } from "./AttachButton";
import { DraftAttachments } from "./DraftAttachments";
import { DropOverlay, dropZoneClass } from "./DropOverlay";
import { useAttachmentDraft } from "./use-attachment-draft";
import { useFileDrop } from "./use-file-drop";
import { VoiceNoteButton } from "./VoiceNoteButton";

type SendExtras = { replyToId?: string; attachmentIds?: string[] };

/**
 * File sharing for a room's chat, as one hook the chat panel plugs in: the drop target,
 * the attach and voice-note controls, the attached files with their progress, and a send
 * that waits for the uploads and adds their ids to the message.
 */
export function useChatFiles(roomId: string) {
  const draft = useAttachmentDraft(roomId);
  const drop = useFileDrop(draft.add);
  const hasFiles = draft.files.length > 0;

  return useMemo(
    () => ({
      /** Spread on the chat region (with dropZoneClass): dropping files there attaches them. */
      dropTarget: drop.props,
      dropZoneClass,
      overlay: drop.active ? <DropOverlay /> : null,
      /** The attached files, above the composer. */
      draftView: <DraftAttachments draft={draft} />,
      /** Beside the message box. */
      controls: (
        <>
          <AttachButton onFiles={draft.add} />
          <VoiceNoteButton onRecorded={(file) => draft.add([file])} />
        </>
      ),
      /** For the composer: a caption is optional when files are attached; pasted files attach. */
      composerProps: { canSendEmpty: hasFiles, onPasteFiles: draft.add },
      /**
       * Sends the message through `deliver`; with files attached, once they have uploaded
       * (so it appears for everyone complete). Files that failed are left in the draft.
       */
      send(body: string, extras: SendExtras, deliver: (body: string, extras?: SendExtras) => void) {
        if (!hasFiles) {
          deliver(body, extras);
          return;
        }
        void draft.takeForSending().then((attachmentIds) => {
          if (attachmentIds.length === 0 && !body.trim()) return;
          deliver(body, attachmentIds.length ? { ...extras, attachmentIds } : extras);
        });
      },
    }),
    [draft, drop, hasFiles],
  );
}
