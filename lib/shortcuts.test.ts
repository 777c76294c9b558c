import { describe, expect, it } from "vitest";
import {
  comboLabel,
  isTypingTarget,
  matchesShortcut,
  SHORTCUTS,
  shortcutLabel,
  type KeyEventLike,
} from "./shortcuts";

const press = (key: string, mods: Partial<KeyEventLike> = {}): KeyEventLike => ({
  key,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  shiftKey: false,
  ...mods,
});

describe("keyboard shortcuts", () => {
  it("matches Ctrl+K and ⌘K, and not a plain k", () => {
    expect(matchesShortcut(press("k", { ctrlKey: true }), "quickSwitcher")).toBe(true);
    expect(matchesShortcut(press("K", { metaKey: true }), "quickSwitcher")).toBe(true);
    expect(matchesShortcut(press("k"), "quickSwitcher")).toBe(false);
    expect(matchesShortcut(press("k", { ctrlKey: true, altKey: true }), "quickSwitcher")).toBe(
      false,
    );
  });

  it("tells Enter from Shift+Enter, and ? needs no care about Shift", () => {
    expect(matchesShortcut(press("Enter"), "sendMessage")).toBe(true);
    expect(matchesShortcut(press("Enter", { shiftKey: true }), "sendMessage")).toBe(false);
    expect(matchesShortcut(press("Enter", { shiftKey: true }), "newLine")).toBe(true);
    expect(matchesShortcut(press("?", { shiftKey: true }), "showShortcuts")).toBe(true);
    expect(matchesShortcut(press("?"), "showShortcuts")).toBe(true);
  });

  it("keeps Alt+↑ for rooms apart from ↑ for editing", () => {
    expect(matchesShortcut(press("ArrowUp", { altKey: true }), "previousRoom")).toBe(true);
    expect(matchesShortcut(press("ArrowUp", { altKey: true }), "editLastMessage")).toBe(false);
    expect(matchesShortcut(press("ArrowUp"), "editLastMessage")).toBe(true);
    expect(matchesShortcut(press("ArrowDown", { altKey: true }), "nextRoom")).toBe(true);
  });

  it("writes combinations for people, per platform", () => {
    expect(shortcutLabel("quickSwitcher")).toBe("Ctrl+K");
    expect(shortcutLabel("quickSwitcher", true)).toBe("⌘K");
    expect(shortcutLabel("previousRoom")).toBe("Alt+↑");
    expect(shortcutLabel("markRoomRead")).toBe("Esc");
    expect(comboLabel({ key: "Enter", shift: true })).toBe("Shift+Enter");
    for (const s of Object.values(SHORTCUTS)) expect(s.description).not.toBe("");
  });

  it("knows what is being typed into", () => {
    const el = (tagName: string, extra: Record<string, unknown> = {}) =>
      ({ tagName, closest: () => null, isContentEditable: false, ...extra }) as unknown as Element;
    expect(isTypingTarget(el("TEXTAREA"))).toBe(true);
    expect(isTypingTarget(el("INPUT", { type: "search" }))).toBe(true);
    expect(isTypingTarget(el("INPUT", { type: "checkbox" }))).toBe(false);
    expect(isTypingTarget(el("DIV", { isContentEditable: true }))).toBe(true);
    expect(isTypingTarget(el("BUTTON"))).toBe(false);
    expect(isTypingTarget(null)).toBe(false);
  });
});
