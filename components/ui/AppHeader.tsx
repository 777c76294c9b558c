"use client";

import Link from "next/link";
import { signOut } from "next-auth/react";
import { type ReactNode, Suspense } from "react";
import { SearchBox } from "@/components/search/SearchBox";
import { useUnreadSignals } from "@/lib/notify/client/unread";
import { ThemeToggle } from "./ThemeToggle";
import styles from "./AppHeader.module.css";

/** The bar along the top of signed-in pages (components/shell/AppShell.tsx places it). */
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
      <div className={styles.right}>
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
