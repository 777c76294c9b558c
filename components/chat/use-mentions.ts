"use client";

import { useQuery } from "@tanstack/react-query";
import { type KeyboardEvent, useCallback, useId, useRef, useState } from "react";
import { mentionMarkdown } from "@/lib/notify/schemas";

export interface MentionOption {
  /** A member's id, or "room" for @room. */
  id: string;
  label: string;
}

/** `@` then up to 30 characters without spaces or another `@`, just before the caret. */
const TRIGGER = /(^|\s)@([^\s@]{0,30})$/;

async function fetchMembers(slug: string, q: string): Promise<MentionOption[]> {
  const res = await fetch(
    `/api/rooms/${encodeURIComponent(slug)}/members?q=${encodeURIComponent(q)}`,
    { headers: { accept: "application/json" } },
  );
  if (!res.ok) return [];
  const { members } = (await res.json()) as {
    members: { userId: string; displayName: string }[];
  };
  return members.map((m) => ({ id: m.userId, label: m.displayName }));
}

/**
 * The composer's `@` autocomplete: typing `@` opens a listbox named `Mention` of the room's
 * members (and `@room`); arrows move, Enter or Tab chooses, Escape closes. The box keeps
 * plain `@Name` text; `toMarkdown` turns the chosen ones into mention links when sending.
 * The textbox points at the listbox (aria-controls) and its active option
 * (aria-activedescendant), so screen readers follow the choice.
 */
export function useMentions(slug: string | undefined) {
  const listId = useId();
  const [query, setQuery] = useState<{ text: string; start: number } | null>(null);
  const [active, setActive] = useState(0);
  const chosen = useRef(new Map<string, string>());

  const { data: members = [] } = useQuery({
    queryKey: ["mention-members", slug, query?.text ?? ""],
    queryFn: () => fetchMembers(slug!, query!.text),
    enabled: !!slug && query !== null,
    staleTime: 30_000,
  });
  const options: MentionOption[] =
    query === null
      ? []
      : [
          ...members,
          ...("room".startsWith(query.text.toLowerCase()) ? [{ id: "room", label: "room" }] : []),
        ];
  const open = query !== null && options.length > 0;

  /** After each edit or caret move: is the caret just after `@something`? */
  const update = useCallback((value: string, caret: number) => {
    const m = TRIGGER.exec(value.slice(0, caret));
    if (!m) {
      setQuery(null);
      return;
    }
    setQuery({ text: m[2]!, start: caret - m[2]!.length - 1 });
    setActive(0);
  }, []);

  /** Replaces `@query` with `@Name ` and returns the new value and caret. */
  function choose(
    option: MentionOption,
    value: string,
    caret: number,
  ): { value: string; caret: number } {
    if (!query) return { value, caret };
    const inserted = `@${option.label} `;
    if (option.id !== "room") chosen.current.set(option.label, option.id);
    setQuery(null);
    const next = value.slice(0, query.start) + inserted + value.slice(caret);
    return { value: next, caret: query.start + inserted.length };
  }

  /** Handles the listbox's keys; returns true when it took the key. */
  function onKeyDown(
    e: KeyboardEvent<HTMLTextAreaElement>,
    apply: (option: MentionOption) => void,
  ): boolean {
    if (!open) return false;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const step = e.key === "ArrowDown" ? 1 : -1;
      setActive((i) => (i + step + options.length) % options.length);
      return true;
    }
    if ((e.key === "Enter" && !e.shiftKey) || e.key === "Tab") {
      e.preventDefault();
      apply(options[Math.min(active, options.length - 1)]!);
      return true;
    }
    if (e.key === "Escape") {
      e.preventDefault();
      setQuery(null);
      return true;
    }
    return false;
  }

  /** The message's markdown: each chosen `@Name` becomes a mention of that member. */
  function toMarkdown(body: string): string {
    let out = body;
    // Longest names first, so "Ada Lovelace" wins over "Ada".
    const names = [...chosen.current.keys()].sort((a, b) => b.length - a.length);
    for (const name of names) {
      const id = chosen.current.get(name)!;
      const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      out = out.replace(
        new RegExp(`(^|[^\\w[])@${escaped}(?![\\w])`, "g"),
        (_, before: string) => `${before}${mentionMarkdown(id, name)}`,
      );
    }
    chosen.current.clear();
    return out;
  }

  const optionId = (i: number) => `${listId}-option-${i}`;
  return {
    open,
    options,
    active: Math.min(active, Math.max(0, options.length - 1)),
    listId,
    optionId,
    update,
    choose,
    onKeyDown,
    toMarkdown,
    close: () => setQuery(null),
  };
}
