"use client";

import { memo } from "react";
import ReactMarkdown, { type Components, defaultUrlTransform } from "react-markdown";
import remarkGfm from "remark-gfm";
import { linkRoomMentions } from "@/lib/notify/schemas";
import styles from "./Chat.module.css";

/**
 * Chat markdown: bold, italics, strikethrough, inline code, code blocks, lists, quotes and
 * links (opening in a new tab). Raw HTML is never rendered — it shows as the text it is —
 * and react-markdown's URL filter drops javascript: and other unsafe links.
 */
const ALLOWED = [
  "p",
  "br",
  "strong",
  "em",
  "del",
  "code",
  "pre",
  "a",
  "ul",
  "ol",
  "li",
  "blockquote",
];

const components: Components = {
  a: ({ href, children }) =>
    // A mention (`[@Name](mention:<id>)`, or @room): a highlighted name, not a link.
    href?.startsWith("mention:") ? (
      <span className={styles.mention} data-mention={href.slice("mention:".length)}>
        {children}
      </span>
    ) : (
      <a href={href} target="_blank" rel="noopener noreferrer nofollow">
        {children}
      </a>
    ),
};

/** Mentions keep their `mention:` target; every other URL goes through the safe filter. */
function urlTransform(url: string): string {
  return /^mention:(room|[0-9a-f-]{36})$/.test(url) ? url : defaultUrlTransform(url);
}

export const Markdown = memo(function Markdown({ text }: { text: string }) {
  return (
    <ReactMarkdown
      remarkPlugins={[remarkGfm]}
      allowedElements={ALLOWED}
      unwrapDisallowed
      components={components}
      urlTransform={urlTransform}
    >
      {linkRoomMentions(text)}
    </ReactMarkdown>
  );
});
