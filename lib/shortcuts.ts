/**
 * Every keyboard shortcut Parley has, defined once: the keys, what they do and where they
 * work. Handlers match events with `matchesShortcut`; the `?` list shows `SHORTCUTS` with
 * `shortcutLabel`. Framework-free (no React), so any component or test can import it.
 */

/** One key combination. `mod` is Ctrl, or ⌘ on Apple devices (either is accepted). */
export interface KeyCombo {
  /** `KeyboardEvent.key`, compared case-insensitively ("k", "ArrowUp", "Escape", "?"). */
  key: string;
  mod?: boolean;
  alt?: boolean;
  /** Checked only when set: "?" is typed with Shift on most layouts and must not care. */
  shift?: boolean;
}

/** Where a shortcut works, in the order the `?` list groups them. */
export const SHORTCUT_SCOPES = {
  anywhere: "Anywhere",
  room: "In a room",
  composer: "In the message box",
  editing: "Editing a message",
} as const;
export type ShortcutScope = keyof typeof SHORTCUT_SCOPES;

export interface Shortcut {
  /** Any one of these combinations triggers it. */
  combos: readonly KeyCombo[];
  description: string;
  scope: ShortcutScope;
}

export const SHORTCUTS = {
  quickSwitcher: {
    combos: [{ key: "k", mod: true }],
    description: "Find a room or person and go there",
    scope: "anywhere",
  },
  previousRoom: {
    combos: [{ key: "ArrowUp", alt: true }],
    description: "Go to the room above in the list",
    scope: "anywhere",
  },
  nextRoom: {
    combos: [{ key: "ArrowDown", alt: true }],
    description: "Go to the room below in the list",
    scope: "anywhere",
  },
  showShortcuts: {
    combos: [{ key: "?" }],
    description: "Show these keyboard shortcuts",
    scope: "anywhere",
  },
  markRoomRead: {
    combos: [{ key: "Escape" }],
    description: "Mark the room read (when no menu or dialog is open)",
    scope: "room",
  },
  sendMessage: {
    combos: [{ key: "Enter", shift: false }],
    description: "Send the message",
    scope: "composer",
  },
  newLine: {
    combos: [{ key: "Enter", shift: true }],
    description: "Start a new line",
    scope: "composer",
  },
  editLastMessage: {
    combos: [{ key: "ArrowUp", shift: false }],
    description: "Edit your last message (when the box is empty)",
    scope: "composer",
  },
  cancelReply: {
    combos: [{ key: "Escape" }],
    description: "Stop replying, or close the mention list",
    scope: "composer",
  },
  saveEdit: {
    combos: [{ key: "Enter", shift: false }],
    description: "Save the edit",
    scope: "editing",
  },
  cancelEdit: {
    combos: [{ key: "Escape" }],
    description: "Cancel the edit",
    scope: "editing",
  },
} as const satisfies Record<string, Shortcut>;
export type ShortcutId = keyof typeof SHORTCUTS;

/** The fields of a KeyboardEvent (DOM or React) that matching reads. */
export interface KeyEventLike {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
}

export function matchesCombo(event: KeyEventLike, combo: KeyCombo): boolean {
  if (event.key.toLowerCase() !== combo.key.toLowerCase()) return false;
  if (!!combo.mod !== (event.ctrlKey || event.metaKey)) return false;
  if (!!combo.alt !== event.altKey) return false;
  return combo.shift === undefined || combo.shift === event.shiftKey;
}

export function matchesShortcut(event: KeyEventLike, id: ShortcutId): boolean {
  return SHORTCUTS[id].combos.some((combo) => matchesCombo(event, combo));
}

const KEY_NAMES: Record<string, string> = {
  arrowup: "↑",
  arrowdown: "↓",
  arrowleft: "←",
  arrowright: "→",
  escape: "Esc",
  enter: "Enter",
};

/** How a combination is written for people: "Ctrl+K" (or "⌘K" on Apple devices), "Alt+↑". */
export function comboLabel(combo: KeyCombo, apple = false): string {
  const key = KEY_NAMES[combo.key.toLowerCase()] ?? combo.key.toUpperCase();
  const parts: string[] = [];
  if (combo.mod) parts.push(apple ? "⌘" : "Ctrl");
  if (combo.alt) parts.push(apple ? "⌥" : "Alt");
  if (combo.shift) parts.push(apple ? "⇧" : "Shift");
  parts.push(key);
  return parts.join(apple ? "" : "+");
}

/** Every combination of a shortcut, written out ("Ctrl+K"; several joined with " or "). */
export function shortcutLabel(id: ShortcutId, apple = false): string {
  return SHORTCUTS[id].combos.map((c) => comboLabel(c, apple)).join(" or ");
}

/** Whether the browser runs on an Apple device (⌘ rather than Ctrl in labels). */
export function isApplePlatform(): boolean {
  return typeof navigator !== "undefined" && /Mac|iPhone|iPad|iPod/.test(navigator.userAgent);
}

/**
 * Whether a key press goes to something the person is typing into (a text field, a
 * textarea, an editable element): single-key shortcuts like `?` must leave those alone.
 */
export function isTypingTarget(target: EventTarget | null): boolean {
  if (!target || typeof (target as Element).closest !== "function") return false;
  const el = target as HTMLElement;
  if (el.isContentEditable) return true;
  if (el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
  if (el.tagName !== "INPUT") return false;
  const type = (el as HTMLInputElement).type;
  return !["button", "checkbox", "radio", "submit", "reset", "range", "color", "file"].includes(
    type,
  );
}

/**
 * What counts as an open popup: a dialog, menu or list of choices, or any element marked
 * `data-popup` (a panel a button opens: the notification menu, the reaction picker).
 */
export const POPUP_SELECTOR =
  'dialog[open], [role="dialog"], [role="alertdialog"], [role="menu"], [role="listbox"], [aria-modal="true"], [data-popup]';

/**
 * Whether a popup is open on the page: `Esc` then closes that rather than acting on the
 * room. Read when the key goes down (a capture listener), before any handler has closed it.
 */
export function popupOpen(doc: Document = document): boolean {
  return doc.querySelector(POPUP_SELECTOR) !== null;
}
