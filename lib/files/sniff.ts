import { fileTypeFromBuffer } from "file-type";

/**
 * Content sniffing. This module is pure (no "server-only", no path aliases) because it runs
 * in the transfer worker (./transfer-worker.ts), off the web node's main thread; the main
 * thread reaches it through Transfers.sniff().
 */

/**
 * How much of a file's start is looked at. A few KB hold every magic number file-type
 * knows, an MP3's ID3 header, a WebM's track list and the head of an SVG or HTML page; the
 * bound keeps the cost of a sniff small and the same for every file, whatever its size.
 */
export const SNIFF_BYTES = 8 * 1024;

/**
 * The media type of a file from its first bytes: magic numbers via file-type, then a
 * look at text. The type the client claimed is never consulted, so a file cannot get
 * itself shown inline by lying about what it is.
 */
export async function sniffType(input: Uint8Array): Promise<string> {
  const sample = Buffer.from(input.buffer, input.byteOffset, Math.min(input.length, SNIFF_BYTES));
  const detected = await fileTypeFromBuffer(sample);
  // file-type calls any document starting `<?xml` XML; an SVG is one, and is named below.
  if (detected && detected.mime !== "application/xml") {
    // file-type calls every WebM video/webm; a recorded voice note has only audio.
    if (detected.mime === "video/webm" && webmHasOnlyAudio(sample)) return "audio/webm";
    return detected.mime;
  }
  const text = asText(sample);
  if (text === null) return detected?.mime ?? "application/octet-stream";
  // Neither is ever served inline; naming them lets the download say what they are.
  return markupType(text) ?? detected?.mime ?? "text/plain";
}

/**
 * SVG or HTML from a document's start. Leading whitespace and comments are skipped by a
 * scan, not a regular expression: `(<!--[\s\S]*?-->\s*)*` backtracks exponentially on
 * repeated `<!---->` (a 200-byte upload stalled the server for seconds). Every pattern
 * below is anchored at one position and linear.
 */
function markupType(text: string): "image/svg+xml" | "text/html" | null {
  let at = skipSpace(text, 0);
  const xmlDeclaration = /^<\?xml[^>]*>/i.exec(text.slice(at));
  if (xmlDeclaration) at = skipSpace(text, at + xmlDeclaration[0].length);
  at = skipComments(text, at);
  const rest = text.slice(at);
  const doctypeSvg = /^<!doctype svg[^>]*>/i.exec(rest);
  const afterDoctype = doctypeSvg ? skipSpace(rest, doctypeSvg[0].length) : 0;
  if (/^<svg[\s>]/i.test(rest.slice(afterDoctype))) return "image/svg+xml";
  // An XML declaration before HTML does not make it HTML (as before: XHTML stays XML).
  if (!xmlDeclaration && /^(?:<!doctype html|<html|<head|<body|<script)/i.test(rest)) {
    return "text/html";
  }
  return null;
}

/** Skips any run of `<!-- … -->` comments and whitespace; an unclosed comment ends the text. */
function skipComments(text: string, from: number): number {
  let at = from;
  while (text.startsWith("<!--", at)) {
    const end = text.indexOf("-->", at + 4);
    if (end < 0) return text.length;
    at = skipSpace(text, end + 3);
  }
  return at;
}

function skipSpace(text: string, from: number): number {
  let at = from;
  while (at < text.length && /\s/.test(text[at]!)) at++;
  return at;
}

function asText(sample: Buffer): string | null {
  if (sample.includes(0)) return null;
  try {
    // stream: true tolerates a character cut off at the end of the sample.
    return new TextDecoder("utf-8", { fatal: true }).decode(sample, { stream: true });
  } catch {
    return null;
  }
}

/**
 * Whether a WebM's track list (in the sample) has audio tracks and no video track. A
 * minimal EBML walk: Segment → Tracks → TrackEntry → TrackType (1 video, 2 audio).
 */
export function webmHasOnlyAudio(sample: Buffer): boolean {
  const types: number[] = [];
  const CONTAINERS = new Set([
    0x18538067 /* Segment */, 0x1654ae6b /* Tracks */, 0xae /* TrackEntry */,
  ]);
  const walk = (start: number, end: number, depth: number): void => {
    let at = start;
    while (at < end && depth < 8) {
      const id = readId(sample, at);
      if (!id) return;
      const size = readSize(sample, at + id.length);
      if (!size) return;
      const body = at + id.length + size.length;
      const bodyEnd = size.value === null ? end : Math.min(end, body + size.value);
      if (CONTAINERS.has(id.value)) walk(body, bodyEnd, depth + 1);
      else if (
        id.value === 0x83 &&
        size.value !== null &&
        size.value >= 1 &&
        size.value <= 8 &&
        body + size.value <= end
      ) {
        types.push(sample.readUIntBE(body, size.value));
      }
      if (size.value === null) return;
      at = body + size.value;
    }
  };
  walk(0, sample.length, 0);
  return types.length > 0 && types.every((t) => t === 2);
}

function readId(b: Buffer, at: number): { value: number; length: number } | null {
  const first = b[at];
  if (first === undefined || first === 0) return null;
  const length = Math.clz32(first) - 23; // leading zeros within the byte, plus one
  if (length > 4 || at + length > b.length) return null;
  return { value: b.readUIntBE(at, length), length };
}

function readSize(b: Buffer, at: number): { value: number | null; length: number } | null {
  const first = b[at];
  if (first === undefined || first === 0) return null;
  const length = Math.clz32(first) - 23;
  if (length > 8 || at + length > b.length) return null;
  let value = first & (0xff >> length);
  let allOnes = value === 0xff >> length;
  for (let i = 1; i < length; i++) {
    const byte = b[at + i]!;
    value = value * 256 + byte;
    if (byte !== 0xff) allOnes = false;
  }
  // All ones means "unknown size" (live recordings, such as MediaRecorder's).
  return { value: allOnes ? null : value, length };
}
