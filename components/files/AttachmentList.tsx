"use client";

import type { AttachmentView } from "@/lib/files/schemas";

/**
 * The files a message shares. (A first version: links by file name; file sharing's own
 * components replace this with previews and players.)
 */
export function AttachmentList({ attachments }: { attachments: AttachmentView[] }) {
  return (
    <ul>
      {attachments.map((a) => (
        <li key={a.id}>
          <a href={`/api/files/${a.id}`}>{a.name}</a>
        </li>
      ))}
    </ul>
  );
}
