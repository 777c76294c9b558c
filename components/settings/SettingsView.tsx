"use client";

import { signOut } from "next-auth/react";
import { useRouter } from "next/navigation";
import { useState } from "react";
import type { SessionUser } from "@/lib/auth/schemas";
import { NotificationSettings } from "@/components/notify/NotificationSettings";
import { AccountSection } from "./AccountSection";
import { PasskeysSection } from "./PasskeysSection";
import styles from "./SettingsView.module.css";

/** Your account's settings: sessions, passkeys, password, deleting the account. */
export function SettingsView({ user }: { user: SessionUser }) {
  const router = useRouter();
  const refresh = () => router.refresh();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function signOutEverywhere() {
    setError(null);
    setBusy(true);
    try {
      const res = await fetch("/api/sessions", { method: "DELETE" });
      if (!res.ok) {
        const body = (await res.json().catch(() => null)) as {
          error?: { message?: string };
        } | null;
        throw new Error(body?.error?.message ?? "Could not sign out everywhere; try again");
      }
      await signOut({ callbackUrl: "/signin" });
    } catch (err) {
      setError(err instanceof Error ? err.message : "Could not sign out everywhere; try again");
      setBusy(false);
    }
  }

  return (
    <>
      <main className={styles.main}>
        <h1 className={styles.title}>Settings</h1>
        {error && (
          <p role="alert" className="alert">
            {error}
          </p>
        )}
        <NotificationSettings
          classes={{ section: `card ${styles.section}`, title: styles.sectionTitle ?? "" }}
        />
        <section className={`card ${styles.section}`}>
          <h2 className={styles.sectionTitle}>Sessions</h2>
          <p className="muted">
            {user.isGuest
              ? "You are a guest: signing out ends this guest identity, and it cannot be signed in again."
              : "Signed in on a device you no longer have? End every session, here and everywhere else; each device must sign in again."}
          </p>
          <button
            type="button"
            className="btn"
            onClick={() => void signOutEverywhere()}
            disabled={busy}
          >
            Sign out everywhere
          </button>
        </section>
        <PasskeysSection isGuest={user.isGuest} onUpgraded={refresh} />
        <AccountSection user={user} onUpgraded={refresh} />
      </main>
    </>
  );
}
