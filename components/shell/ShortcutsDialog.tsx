"use client";

import { isApplePlatform, keyLabels, type Shortcut, shortcuts } from "@/lib/keyboard/shortcuts";
import { Modal } from "@/components/ui/Modal";
import styles from "./Shell.module.css";

/** `?`: every keyboard shortcut, from the one table that defines them (lib/keyboard/shortcuts.ts). */
export function ShortcutsDialog({ onClose }: { onClose(): void }) {
  const apple = isApplePlatform();
  const all: Shortcut[] = Object.values(shortcuts);
  return (
    <Modal label="Keyboard shortcuts" className={styles.shortcuts} onClose={onClose}>
      <div className={styles.dialogBar}>
        <h2 className={styles.dialogTitle}>Keyboard shortcuts</h2>
        <button type="button" className="btn btn-small" onClick={onClose} autoFocus>
          Close
        </button>
      </div>
      <table className={styles.shortcutTable}>
        <thead>
          <tr>
            <th scope="col">Keys</th>
            <th scope="col">What it does</th>
            <th scope="col">Where</th>
          </tr>
        </thead>
        <tbody>
          {all.map((s) => (
            <tr key={s.description}>
              <td>
                {keyLabels(s, apple).map((k, i) => (
                  <span key={k}>
                    {i > 0 && " + "}
                    <kbd className={styles.kbd}>{k}</kbd>
                  </span>
                ))}
              </td>
              <td>{s.description}</td>
              <td className="muted">{s.where}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Modal>
  );
}
