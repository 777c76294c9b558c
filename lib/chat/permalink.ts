import { z } from "zod";

/**
 * A message's permalink: its room, opened at it (`/r/<slug>?m=<seq>`). Copy link, search
 * results, notifications and email digests all make links with `messagePath`; the room
 * page reads `m` with `messageSeqParam`.
 */
export function messagePath(slug: string, seq: number): string {
  return `/r/${slug}?${MESSAGE_PARAM}=${seq}`;
}

/** The query parameter naming the message a room opens at. */
export const MESSAGE_PARAM = "m";

/** `m` as it comes in the address: a message's seq, a positive whole number. */
export const messageSeqParam = z
  .string()
  .regex(/^\d{1,15}$/, "That link does not point at a message")
  .transform(Number)
  .pipe(z.number().int().min(1, "That link does not point at a message"));
