"use client";

import { useInfiniteQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState } from "react";
import { type RoomFiles, roomFilesSchema } from "@/lib/files/schemas";
import { LocalTime } from "@/components/ui/LocalTime";
import { formatBytes, typeLabel } from "./format";
import { downloadUrl } from "./urls";
import styles from "./Files.module.css";

const filesKey = (slug: string) => ["files", slug] as const;

async function fetchRoomFiles(slug: string, before: string | null): Promise<RoomFiles> {
  const params = new URLSearchParams({ room: slug });
  if (before) params.set("before", before);
  const res = await fetch(`/api/files?${params}`);
  if (!res.ok) throw new Error("The room's files could not be loaded");
  return roomFilesSchema.parse(await res.json());
}

/**
 * The room's `Files` view: everything shared in the room, newest first, and for the owner
 * how much storage the room uses. Collapsed until opened, so its links do not repeat the
 * conversation's for assistive technology. `sharedIds` changes when the conversation's
 * files do, and refreshes the list.
 */
export function FilesPanel({ slug, sharedIds }: { slug: string; sharedIds: string }) {
  const [open, setOpen] = useState(false);
  const listId = useId();
  const queryClient = useQueryClient();
  const query = useInfiniteQuery({
    queryKey: filesKey(slug),
    queryFn: ({ pageParam }) => fetchRoomFiles(slug, pageParam),
    initialPageParam: null as string | null,
    getNextPageParam: (page) => page.nextCursor,
    enabled: open,
  });
  const seen = useRef(sharedIds);
  useEffect(() => {
    if (seen.current === sharedIds) return;
    seen.current = sharedIds;
    if (open) void queryClient.invalidateQueries({ queryKey: filesKey(slug) });
  }, [open, sharedIds, slug, queryClient]);

  const files = query.data?.pages.flatMap((p) => p.files) ?? [];
  const usage = query.data?.pages[0]?.usage ?? null;
  return (
    <section className={styles.panel} aria-label="Files">
      <button
        type="button"
        className={`btn btn-ghost ${styles.panelToggle}`}
        aria-expanded={open}
        aria-controls={listId}
        onClick={() => setOpen((o) => !o)}
      >
        Files
      </button>
      {open && (
        <div id={listId}>
          {usage && (
            <p className={styles.usage}>
              This room stores {formatBytes(usage.bytes)} in {usage.files}{" "}
              {usage.files === 1 ? "file" : "files"}.
            </p>
          )}
          {query.isError && (
            <p role="alert" className="alert">
              {query.error.message}
            </p>
          )}
          {query.isSuccess && files.length === 0 && <p className="muted">Nothing shared yet.</p>}
          <ul className={styles.panelList}>
            {files.map((f) => (
              <li key={f.id} className={styles.panelItem}>
                <a className={styles.fileName} href={downloadUrl(f.id)} download={f.name}>
                  {f.name}
                </a>
                <span className={styles.fileMeta}>
                  {formatBytes(f.size)} · {typeLabel(f.mimeType)} · {f.uploaderName} ·{" "}
                  <LocalTime dateTime={f.sharedAt} style="date" />
                </span>
              </li>
            ))}
          </ul>
          {query.hasNextPage && (
            <button
              type="button"
              className="btn btn-small"
              disabled={query.isFetchingNextPage}
              onClick={() => void query.fetchNextPage()}
            >
              Show older files
            </button>
          )}
        </div>
      )}
    </section>
  );
}
