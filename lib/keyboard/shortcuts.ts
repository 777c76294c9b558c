/**
 * Every keyboard shortcut, defined once: what it does, where it works and which keys. The
 * handlers match events with `matches()`, and the `?` dialog (components/keyboard/) lists
 * this table, so the list cannot drift from what the keys do. A new shortcut is a row here,
 * then a handler that calls `matches(shortcuts.<id>, event)`.
 */

/** A key and the modifiers it needs. Modifiers not named must be up (Shift aside for `?`-like keys). */
export interface KeyCombo {
  /** `KeyboardEvent.key`, compared case-insensitively for letters. */
  key: string;
  /** Ctrl, or ⌘ on Apple devices (either is accepted everywhere). */
  mod?: boolean;
  alt?: boolean;
  shift?: boolean;
}

export interface Shortcut {
  keys: KeyCombo;
  /** What it does, in the user's words. */
  description: string;
  /** Where it works. */
  where: string;
}

export const shortcuts = {
  quickSwitcher: {
    keys: { key: "k", mod: true },
    description: "Find a room or a person",
    where: "Anywhere",
  },
  previousRoom: {
    keys: { key: "ArrowUp", alt: true },
    description: "Previous room in the sidebar",
    where: "Anywhere",
  },
  nextRoom: {
    keys: { key: "ArrowDown", alt: true },
    description: "Next room in the sidebar",
    where: "Anywhere",
  },
  focusSearch: {
    keys: { key: "/" },
    description: "Search messages",
    where: "Anywhere but a text field",
  },
  showShortcuts: {
    keys: { key: "?" },
    description: "Show keyboard shortcuts",
    where: "Anywhere but a text field",
  },
  send: {
    keys: { key: "Enter" },
    description: "Send the message",
    where: "Message",
  },
  newLine: {
    keys: { key: "Enter", shift: true },
    description: "Start a new line",
    where: "Message",
  },
  mention: {
    keys: { key: "@" },
    description: "Mention someone (arrows, then Enter or Tab to choose)",
    where: "Message",
  },
  editLastMessage: {
    keys: { key: "ArrowUp" },
    description: "Edit your last message",
    where: "Message, when it is empty",
  },
  markRoomRead: {
    keys: { key: "Escape" },
    description: "Mark the room read",
    where: "A room, when no menu or dialog is open",
  },
} as const satisfies Record<string, Shortcut>;

export type ShortcutId = keyof typeof shortcuts;

/** Keys whose character already needs Shift (`?`, `@`): Shift is not checked for them. */
const shifted = (key: string) => key.length === 1 && !/[a-z0-9]/i.test(key);

/** Whether `event` is this shortcut's key combination. */
export function matches(
  shortcut: Shortcut,
  event: Pick<KeyboardEvent, "key" | "ctrlKey" | "metaKey" | "altKey" | "shiftKey">,
): boolean {
  const { key, mod = false, alt = false, shift = false } = shortcut.keys;
  if (event.key.toLowerCase() !== key.toLowerCase()) return false;
  if ((event.ctrlKey || event.metaKey) !== mod) return false;
  if (event.altKey !== alt) return false;
  return shifted(key) || event.shiftKey === shift;
}

const KEY_NAMES: Record<string, string> = {
  ArrowUp: "↑",
  ArrowDown: "↓",
  ArrowLeft: "←",
  ArrowRight: "→",
  Escape: "Esc",
};

/** The keys to press, as shown to a person: `["Ctrl", "K"]`, or `["⌘", "K"]` on Apple devices. */
export function keyLabels(shortcut: Shortcut, apple: boolean): string[] {
  const { key, mod, alt, shift } = shortcut.keys;
  const labels: string[] = [];
  if (mod) labels.push(apple ? "⌘" : "Ctrl");
  if (alt) labels.push(apple ? "⌥" : "Alt");
  if (shift) labels.push("Shift");
  labels.push(KEY_NAMES[key] ?? (key.length === 1 ? key.toUpperCase() : key));
  return labels;
}

/** Whether this browser runs on a Mac, iPhone or iPad (⌘ rather than Ctrl). */
export function isApplePlatform(): boolean {
  if (typeof navigator === "undefined") return false;
  return /Mac|iPhone|iPad|iPod/.test(navigator.platform || navigator.userAgent);
}

/**
 * Whether a key pressed here is someone typing (a text field, a text area, an editable
 * element): single-key shortcuts like `?` leave those alone.
 */
export function isTypingTarget(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target instanceof HTMLTextAreaElement) return true;
  if (target instanceof HTMLSelectElement) return true;
  if (target instanceof HTMLInputElement) {
    return !["button", "checkbox", "radio", "range", "reset", "submit", "file", "color"].includes(
      target.type,
    );
  }
  return false;
}

/**
 * What counts as an open popup: a dialog, a menu or list of choices, or any element marked
 * `data-popup` (a panel a button opens: the notification menu, the reaction picker). Give a
 * new popup one of these, so `Esc` closes it rather than acting on the room.
 */
export const POPUP_SELECTOR =
  'dialog[open], [role="dialog"], [role="alertdialog"], [role="menu"], [role="listbox"], [aria-modal="true"], [data-popup]';

/**
 * Whether a popup is open on the page. Read when the key goes down (a capture listener),
 * before any handler has closed it.
 */
export function popupOpen(doc: Document = document): boolean {
  // Shown ones only: a popover (the call tiles' `Connection details`) is in the page, hidden,
  // all the time.
  return [...doc.querySelectorAll<HTMLElement>(POPUP_SELECTOR)].some(
    (el) => el.checkVisibility?.() ?? el.getClientRects().length > 0,
  );
}
