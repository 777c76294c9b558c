"use client";

import { type ReactNode, useEffect, useRef } from "react";

/**
 * A modal dialog (the browser's `<dialog>` opened with `showModal()`): the page behind is
 * inert, focus stays inside, Escape closes it. Open while mounted; `onClose` when Escape,
 * a click on the backdrop or the dialog's own controls close it. Focus goes back to where
 * it was when it opened.
 */
export function Modal({
  label,
  className,
  onClose,
  children,
}: {
  /** The dialog's accessible name. */
  label: string;
  className?: string;
  onClose(): void;
  children: ReactNode;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const node = dialog.current;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (node && !node.open) node.showModal();
    return () => {
      node?.close();
      // A navigation may have removed the opener (a link in the drawer): then nothing.
      if (opener?.isConnected) opener.focus();
    };
  }, []);
  return (
    <dialog
      ref={dialog}
      className={className}
      aria-label={label}
      onClose={onClose}
      onClick={(e) => {
        // A click on the backdrop lands on the dialog itself.
        if (e.target === e.currentTarget) onClose();
      }}
    >
      {children}
    </dialog>
  );
}
