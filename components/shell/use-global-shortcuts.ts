"use client";

import { useEffect, useRef } from "react";
import { isTypingTarget, matches, popupOpen, shortcuts } from "@/lib/keyboard/shortcuts";

export interface GlobalShortcutActions {
  quickSwitcher(): void;
  previousRoom(): void;
  nextRoom(): void;
  showShortcuts(): void;
  focusSearch(): void;
}

/**
 * The shortcuts that work on every signed-in page: Ctrl/⌘+K, Alt+↑/↓, `?` and `/`. A key some
 * control already handled (`defaultPrevented`: the `@` list's arrows, a menu) is left
 * alone, and so is everything while a popup is open (`popupOpen`: a dialog, a menu, the `@`
 * list) — its own keys come first.
 * `?` and `/` are characters, so never while someone is typing in a field.
 */
export function useGlobalShortcuts(actions: GlobalShortcutActions): void {
  const latest = useRef(actions);
  useEffect(() => {
    latest.current = actions;
  });
  useEffect(() => {
    const onKeyDown = (e: KeyboardEvent) => {
      if (e.defaultPrevented || e.isComposing) return;
      if (popupOpen()) return;
      const run = (action: () => void) => {
        e.preventDefault();
        action();
      };
      const a = latest.current;
      if (matches(shortcuts.quickSwitcher, e)) run(a.quickSwitcher);
      else if (matches(shortcuts.previousRoom, e)) run(a.previousRoom);
      else if (matches(shortcuts.nextRoom, e)) run(a.nextRoom);
      else if (matches(shortcuts.showShortcuts, e) && !isTypingTarget(e.target)) {
        run(a.showShortcuts);
      } else if (matches(shortcuts.focusSearch, e) && !isTypingTarget(e.target)) {
        run(a.focusSearch);
      }
    };
    window.addEventListener("keydown", onKeyDown);
    return () => window.removeEventListener("keydown", onKeyDown);
  }, []);
}
