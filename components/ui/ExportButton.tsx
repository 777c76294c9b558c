"use client";

import { useState } from "react";

const MB = 1024 * 1024;
const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;

/**
 * Downloads a streamed export (`/api/account/export`, `/api/rooms/<slug>/export`) with its
 * progress shown: bytes received against the size of the files in it (the server says it
 * in `X-Export-Files-Bytes`; the text adds a little). The browser keeps the parts as a Blob
 * (large ones on disk, in Chromium) and saves it under the server's file name.
 */
export function ExportButton({ url, label }: { url: string; label: string }) {
  const [progress, setProgress] = useState<{ received: number; expected: number } | null>(null);
  const [status, setStatus] = useState("");
  const [error, setError] = useState<string | null>(null);

  async function run() {
    setError(null);
    setStatus("");
    setProgress({ received: 0, expected: 0 });
    try {
      const res = await fetch(url);
      if (!res.ok || !res.body) {
        const body = (await res.json().catch(() => null)) as {
          error?: { message?: string };
        } | null;
        throw new Error(body?.error?.message ?? "The export failed; try again");
      }
      const expected = Number(res.headers.get("x-export-files-bytes") ?? 0);
      const name =
        /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "")?.[1] ??
        "parley-export.tar";
      const parts: Uint8Array[] = [];
      let received = 0;
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        received += value.length;
        setProgress({ received, expected });
      }
      const blob = new Blob(parts as BlobPart[], { type: "application/x-tar" });
      const href = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = href;
      a.download = name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(href), 60_000);
      setStatus(`Exported ${mb(received)} as ${name}`);
    } catch (err) {
      setError(err instanceof Error ? err.message : "The export failed; try again");
    } finally {
      setProgress(null);
    }
  }

  return (
    <>
      <button
        type="button"
        className="btn btn-small"
        disabled={progress !== null}
        onClick={() => void run()}
      >
        {label}
      </button>
      {progress && (
        <span>
          <progress
            aria-label={`${label} progress`}
            max={progress.expected || undefined}
            value={progress.expected ? Math.min(progress.received, progress.expected) : undefined}
          />{" "}
          {mb(progress.received)}
          {progress.expected ? ` of about ${mb(progress.expected)}` : ""}
        </span>
      )}
      {status && <span role="status">{status}</span>}
      {error && (
        <span role="alert" className="alert">
          {error}
        </span>
      )}
    </>
  );
}
