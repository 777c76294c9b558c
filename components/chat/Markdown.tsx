"use client";

import { memo } from "react";
import ReactMarkdown, { type Components } from "react-markdown";
import remarkGfm from "remark-gfm";

/**
 * Chat markdown: bold, italics, strikethrough, inline code, code blocks, lists, quotes and
 * links (opening in a new tab). Raw HTML is never rendered — it shows as the text it is —
 * and react-markdown's URL filter drops javascript: and other unsafe links.
 */
const ALLOWED = ["p", "br", "strong", "em", "del", "code", "pre", "a", "ul", "ol", "li", "blockquote"];

const components: Components = {
  a: ({ href, children }) => (
    <a href={href} target="_blank" rel="noopener noreferrer nofollow">
      {children}
    </a>
  ),
};

export const Markdown = memo(function Markdown({ text }: { text: string }) {
  return (
    <ReactMarkdown
      remarkPlugins={[remarkGfm]}
      allowedElements={ALLOWED}
      unwrapDisallowed
      components={components}
    >
      {text}
    </ReactMarkdown>
  );
});
