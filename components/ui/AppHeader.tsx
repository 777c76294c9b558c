"use client";

import Link from "next/link";
import { signOut } from "next-auth/react";
import { usePathname } from "next/navigation";
import { type ReactNode, Suspense, useId, useRef, useState } from "react";
import { SearchBox } from "@/components/search/SearchBox";
import { useUnreadSignals } from "@/lib/notify/client/unread";
import { ThemeToggle } from "./ThemeToggle";
import { useDismiss } from "./use-dismiss";
import styles from "./AppHeader.module.css";

/**
 * The bar along the top of signed-in pages (components/shell/AppShell.tsx places it). On a
 * phone the account's part (who is signed in, theme, Settings, Sign out) would not fit
 * beside the search: it folds into an `Account` menu there (AppHeader.module.css), the way
 * the rooms fold into a drawer.
 */
export function AppHeader({
  userName,
  start,
  children,
}: {
  userName: string;
  /** Before the name of the app: the rooms drawer's button on phones. */
  start?: ReactNode;
  children?: ReactNode;
}) {
  // Unread count in the title and the app badge; notifications while hidden.
  useUnreadSignals();
  const [menuOpen, setMenuOpen] = useState(false);
  const menuId = useId();
  const menuRef = useRef<HTMLDivElement>(null);
  const toggleRef = useRef<HTMLButtonElement>(null);
  const pathname = usePathname();
  // Going to another page (Settings, or anywhere else) closes the menu.
  const [menuPath, setMenuPath] = useState(pathname);
  if (menuPath !== pathname) {
    setMenuPath(pathname);
    setMenuOpen(false);
  }
  useDismiss(
    menuOpen,
    (how) => {
      setMenuOpen(false);
      if (how === "escape") toggleRef.current?.focus();
    },
    [menuRef, toggleRef],
  );
  return (
    <header className={styles.bar}>
      {start}
      <Link href="/" className={styles.brand}>
        Parley
      </Link>
      <Suspense>
        <SearchBox />
      </Suspense>
      <div className={styles.middle}>{children}</div>
      <button
        ref={toggleRef}
        type="button"
        className={`btn btn-ghost btn-small ${styles.menuToggle}`}
        aria-expanded={menuOpen}
        aria-controls={menuId}
        onClick={() => setMenuOpen((open) => !open)}
      >
        Account
      </button>
      <div ref={menuRef} id={menuId} className={`${styles.right} ${menuOpen ? styles.open : ""}`}>
        <span className={styles.user} title="Signed in as">
          {userName}
        </span>
        <ThemeToggle />
        <Link href="/settings" className="btn btn-ghost btn-small">
          Settings
        </Link>
        <button
          type="button"
          className="btn btn-ghost btn-small"
          onClick={() => void signOut({ callbackUrl: "/signin" })}
        >
          Sign out
        </button>
      </div>
    </header>
  );
}
