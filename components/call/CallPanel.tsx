"use client";

/**
 * The room's call (issue 3). Placeholder until the call UI lands: renders nothing.
 */
export function CallPanel(_props: { roomId: string; slug: string; meName: string }) {
  return null;
}
