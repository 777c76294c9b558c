"use client";

import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { type FormEvent, useEffect, useRef, useState } from "react";
import { showSearch } from "@/lib/search/client";
import { MAX_SEARCH_LENGTH, searchFromParams, searchPagePath } from "@/lib/search/schemas";
import styles from "./Search.module.css";

/**
 * The search box in the bar of every signed-in page: Enter opens the results page
 * (/search?q=…). On that page it holds the current search, and has the focus on arrival
 * so the search can be refined at once. `/` focuses it (focusSearchBox, from the shell's
 * shortcuts).
 */
const INPUT_ID = "search-box";

/** Puts the focus in the search box, its text selected (the `/` shortcut). */
export function focusSearchBox(): void {
  const input = document.getElementById(INPUT_ID);
  if (!(input instanceof HTMLInputElement)) return;
  input.focus();
  input.select();
}

export function SearchBox() {
  const router = useRouter();
  const onSearchPage = usePathname() === "/search";
  const params = useSearchParams();
  const shownSearch = searchFromParams(params.get("q"), params.get("sort"));
  const current = onSearchPage ? shownSearch.q : "";
  const [value, setValue] = useState(current);
  const [shown, setShown] = useState(current);
  const input = useRef<HTMLInputElement>(null);

  // A new search (the address changed: back, forward, a submit) shows in the box.
  if (shown !== current) {
    setShown(current);
    setValue(current);
  }
  useEffect(() => {
    if (onSearchPage && document.activeElement === document.body) input.current?.focus();
  }, [onSearchPage]);

  function onSubmit(event: FormEvent) {
    event.preventDefault();
    const q = value.trim();
    if (!q) return;
    // On the search page the address changes at once (its view fetches); elsewhere, open it.
    if (onSearchPage) showSearch(searchPagePath(q, shownSearch.sort), "push");
    else router.push(searchPagePath(q));
  }

  return (
    <form role="search" className={styles.box} onSubmit={onSubmit}>
      <input
        ref={input}
        id={INPUT_ID}
        type="search"
        name="q"
        aria-label="Search"
        placeholder="Search messages"
        className={`input ${styles.input}`}
        value={value}
        maxLength={MAX_SEARCH_LENGTH}
        onChange={(e) => setValue(e.target.value)}
        autoComplete="off"
        enterKeyHint="search"
      />
    </form>
  );
}
