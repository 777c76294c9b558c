import type { MessageView } from "@/lib/chat/schemas";
import { exportedFilePath } from "./paths";

/**
 * A room's conversation as one self-contained HTML page: its own styles, no scripts, no
 * requests except to the files beside it in the archive (images shown inline from there,
 * other files as links). Text is escaped and shown as written (the markdown source), so
 * nothing in a message can run or fetch anything.
 */
export async function* roomHtml(
  room: { name: string; createdAt: Date; members: Array<{ displayName: string }> },
  pages: AsyncIterable<MessageView[]>,
): AsyncGenerator<string> {
  yield `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'">
<title>${escape(room.name)} — Parley export</title>
<style>
body { font: 15px/1.5 system-ui, sans-serif; max-width: 760px; margin: 0 auto; padding: 24px 16px; color: #1d1d1f; }
header p, .meta, .reply, .reactions { color: #6b6b70; font-size: 13px; }
article { border-top: 1px solid #e5e5ea; padding: 10px 0; }
article h2 { font-size: 15px; margin: 0; display: inline; }
.body { white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0; }
.reply { border-left: 3px solid #d1d1d6; padding-left: 8px; margin: 4px 0; }
img { max-width: 100%; max-height: 480px; display: block; margin: 6px 0; }
@media (prefers-color-scheme: dark) { body { background: #1c1c1e; color: #f2f2f7; } article { border-color: #3a3a3c; } }
</style>
</head>
<body>
<header>
<h1>${escape(room.name)}</h1>
<p>Exported from Parley on ${escape(new Date().toISOString())}. Members: ${escape(
    room.members.map((m) => m.displayName).join(", "),
  )}.</p>
</header>
<main role="log" aria-label="Messages">
`;
  for await (const page of pages) {
    yield page.map(messageHtml).join("");
  }
  yield `</main>
</body>
</html>
`;
}

function messageHtml(m: MessageView): string {
  const parts = [`<article id="m-${escape(m.id)}">`];
  parts.push(
    `<h2>${escape(m.author.displayName)}</h2> <span class="meta"><time datetime="${escape(
      m.createdAt,
    )}">${escape(m.createdAt.replace("T", " ").slice(0, 16))}</time>${m.editedAt ? " (edited)" : ""}</span>`,
  );
  if (m.replyTo) {
    parts.push(
      `<div class="reply">Reply to <a href="#m-${escape(m.replyTo.id)}">${escape(
        m.replyTo.authorName,
      )}</a>: ${m.replyTo.deleted ? "<em>deleted message</em>" : escape(m.replyTo.excerpt)}</div>`,
    );
  }
  if (m.body) parts.push(`<div class="body">${escape(m.body)}</div>`);
  for (const file of m.attachments) {
    const href = escape(encodePath(exportedFilePath(file)));
    if (file.mimeType.startsWith("image/")) {
      parts.push(`<a href="${href}"><img src="${href}" alt="${escape(file.name)}"></a>`);
    } else {
      parts.push(`<div><a href="${href}">${escape(file.name)}</a> (${file.size} bytes)</div>`);
    }
  }
  if (m.reactions.length > 0) {
    parts.push(
      `<div class="reactions">${m.reactions
        .map((r) => `${escape(r.emoji)} ${r.count}`)
        .join(" · ")}</div>`,
    );
  }
  parts.push("</article>\n");
  return parts.join("");
}

const encodePath = (p: string) => p.split("/").map(encodeURIComponent).join("/");

function escape(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!,
  );
}
