import { describe, expect, it } from "vitest";
import { keyLabels, matches, shortcuts } from "./shortcuts";

const key = (
  k: string,
  mods: Partial<Record<"ctrl" | "meta" | "alt" | "shift", boolean>> = {},
) => ({
  key: k,
  ctrlKey: mods.ctrl ?? false,
  metaKey: mods.meta ?? false,
  altKey: mods.alt ?? false,
  shiftKey: mods.shift ?? false,
});

describe("keyboard shortcuts", () => {
  it("matches Ctrl+K and ⌘+K, in either case, and nothing with other modifiers", () => {
    expect(matches(shortcuts.quickSwitcher, key("k", { ctrl: true }))).toBe(true);
    expect(matches(shortcuts.quickSwitcher, key("K", { meta: true }))).toBe(true);
    expect(matches(shortcuts.quickSwitcher, key("k"))).toBe(false);
    expect(matches(shortcuts.quickSwitcher, key("k", { ctrl: true, alt: true }))).toBe(false);
    expect(matches(shortcuts.quickSwitcher, key("k", { ctrl: true, shift: true }))).toBe(false);
  });

  it("tells Alt+↑ from ↑ and Alt+↓, and Shift+Enter from Enter", () => {
    expect(matches(shortcuts.previousRoom, key("ArrowUp", { alt: true }))).toBe(true);
    expect(matches(shortcuts.previousRoom, key("ArrowUp"))).toBe(false);
    expect(matches(shortcuts.previousRoom, key("ArrowDown", { alt: true }))).toBe(false);
    expect(matches(shortcuts.nextRoom, key("ArrowDown", { alt: true }))).toBe(true);
    expect(matches(shortcuts.send, key("Enter"))).toBe(true);
    expect(matches(shortcuts.send, key("Enter", { shift: true }))).toBe(false);
    expect(matches(shortcuts.newLine, key("Enter", { shift: true }))).toBe(true);
  });

  it("takes `?` however the layout makes it (with Shift or without), never with Ctrl", () => {
    expect(matches(shortcuts.showShortcuts, key("?", { shift: true }))).toBe(true);
    expect(matches(shortcuts.showShortcuts, key("?"))).toBe(true);
    expect(matches(shortcuts.showShortcuts, key("?", { ctrl: true }))).toBe(false);
    expect(matches(shortcuts.showShortcuts, key("/"))).toBe(false);
  });

  it("keeps ↑ (edit your last message) apart from Alt+↑ and Shift+↑", () => {
    expect(matches(shortcuts.editLastMessage, key("ArrowUp"))).toBe(true);
    expect(matches(shortcuts.editLastMessage, key("ArrowUp", { alt: true }))).toBe(false);
    expect(matches(shortcuts.editLastMessage, key("ArrowUp", { shift: true }))).toBe(false);
    expect(matches(shortcuts.markRoomRead, key("Escape"))).toBe(true);
    expect(matches(shortcuts.markRoomRead, key("Escape", { ctrl: true }))).toBe(false);
  });

  it("names the keys for the platform", () => {
    expect(keyLabels(shortcuts.quickSwitcher, false)).toEqual(["Ctrl", "K"]);
    expect(keyLabels(shortcuts.quickSwitcher, true)).toEqual(["⌘", "K"]);
    expect(keyLabels(shortcuts.nextRoom, false)).toEqual(["Alt", "↓"]);
    expect(keyLabels(shortcuts.newLine, false)).toEqual(["Shift", "Enter"]);
    expect(keyLabels(shortcuts.showShortcuts, false)).toEqual(["?"]);
  });
});
