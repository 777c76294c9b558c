"use client";

import { type RefObject, useEffect, useEffectEvent } from "react";

/**
 * Closes a popup (a menu, a panel) while it is open: on Escape, or on a press anywhere
 * outside the elements in `inside` (its button and the popup). `close` is told which.
 */
export function useDismiss(
  open: boolean,
  close: (how: "escape" | "outside") => void,
  inside: readonly RefObject<HTMLElement | null>[],
): void {
  const dismiss = useEffectEvent(close);
  const isInside = useEffectEvent((target: Node) =>
    inside.some((ref) => ref.current?.contains(target)),
  );
  useEffect(() => {
    if (!open) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === "Escape") dismiss("escape");
    };
    const onPointer = (event: PointerEvent) => {
      if (!isInside(event.target as Node)) dismiss("outside");
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("pointerdown", onPointer);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("pointerdown", onPointer);
    };
  }, [open]);
}
