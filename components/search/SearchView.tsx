"use client";

import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useId } from "react";
import { groupByRoom, showSearch, useSearch } from "@/lib/search/client";
import {
  hitPath,
  type SearchHit,
  type SearchSort,
  searchFromParams,
  searchPagePath,
} from "@/lib/search/schemas";
import { LocalTime } from "@/components/ui/LocalTime";
import pageStyles from "@/components/ui/Page.module.css";
import { Highlight } from "./Highlight";
import styles from "./Search.module.css";

/**
 * The results of the search in the address (/search?q=…&sort=…): grouped by room, each a
 * link that opens the room at the message. The count, and any refusal, are announced. The
 * address is the one source of the search: the sort always applies to the search shown.
 */
export function SearchView() {
  const params = useSearchParams();
  const { q, sort } = searchFromParams(params.get("q"), params.get("sort"));
  const search = useSearch(q, sort);
  const hits = search.data?.pages.flatMap((p) => p.hits) ?? [];
  const groups = groupByRoom(hits);
  const sortId = useId();

  let status = "";
  if (!q) status = 'Type in Search above: words, "a phrase", -leave-out, in:room, from:person.';
  else if (search.isPending) status = "Searching…";
  else if (search.isSuccess) {
    status =
      hits.length === 0
        ? `No messages match “${q}”.`
        : `${hits.length}${search.hasNextPage ? "+" : ""} result${hits.length === 1 ? "" : "s"} for “${q}”.`;
  }

  return (
    <>
      <main className={pageStyles.main}>
        <div className={pageStyles.top}>
          <h1 className={pageStyles.title}>Search</h1>
          <div className={styles.sort}>
            <label htmlFor={sortId}>Sort</label>
            <select
              id={sortId}
              className="input"
              value={sort}
              onChange={(e) =>
                showSearch(searchPagePath(q, e.target.value as SearchSort), "replace")
              }
              disabled={!q}
            >
              <option value="newest">Newest first</option>
              <option value="best">Best match</option>
            </select>
          </div>
        </div>
        <p role="status" className="muted">
          {status}
        </p>
        {search.isError && (
          <p role="alert" className="alert">
            {search.error.message}
          </p>
        )}
        {groups.length > 0 && (
          <ul aria-label="Search results" className={styles.groups}>
            {groups.map((group) => (
              <RoomGroup key={group.room.id} room={group.room} hits={group.hits} />
            ))}
          </ul>
        )}
        {search.hasNextPage && (
          <button
            type="button"
            className="btn"
            onClick={() => void search.fetchNextPage()}
            disabled={search.isFetchingNextPage}
          >
            {search.isFetchingNextPage ? "Loading…" : "More results"}
          </button>
        )}
        <details className={styles.help}>
          <summary>How to search</summary>
          <ul>
            <li>
              <code>budget review</code> — messages with both words;{" "}
              <code>&quot;budget review&quot;</code> — the phrase; <code>budget -draft</code> —
              without “draft”; <code>budget or plan</code> — either.
            </li>
            <li>
              <code>in:general</code>, <code>in:&quot;design team&quot;</code> — in a room;{" "}
              <code>from:ada</code>, <code>from:me</code> — by someone.
            </li>
            <li>
              <code>has:file</code> — with files (their names are searched too);{" "}
              <code>before:2026-01-31</code>, <code>after:2025-12-01</code> — by date.
            </li>
          </ul>
        </details>
      </main>
    </>
  );
}

function RoomGroup({ room, hits }: { room: SearchHit["room"]; hits: SearchHit[] }) {
  const headingId = useId();
  return (
    <li className={styles.group}>
      <h2 id={headingId} className={styles.room}>
        {room.name}
      </h2>
      <ul aria-labelledby={headingId} className={styles.hits}>
        {hits.map((hit) => (
          <li key={hit.messageId}>
            <Link href={hitPath(hit)} className={styles.hit}>
              <span className={styles.meta}>
                <span className={styles.author}>{hit.author.displayName}</span>{" "}
                <LocalTime dateTime={hit.createdAt} style="date" withTitle />
                {hit.editedAt && <span className="muted"> (edited)</span>}
              </span>
              {hit.snippet.length > 0 && (
                <span className={styles.snippet}>
                  <Highlight parts={hit.snippet} />
                </span>
              )}
              {hit.files.map((file, i) => (
                <span key={i} className={styles.file}>
                  <span aria-hidden="true">📎 </span>
                  <span className="visually-hidden">File: </span>
                  <Highlight parts={file} />
                </span>
              ))}
            </Link>
          </li>
        ))}
      </ul>
    </li>
  );
}
