"use client";

import { signOut } from "next-auth/react";
import { type FormEvent, useId, useState } from "react";
import { changePassword, deleteAccount, upgradeGuest } from "@/lib/auth/client";
import type { SessionUser } from "@/lib/auth/schemas";
import { ExportButton } from "@/components/ui/ExportButton";
import styles from "./SettingsView.module.css";

const message = (err: unknown) =>
  err instanceof Error ? err.message : "Something went wrong; try again";

/**
 * The account itself: a guest keeps its identity with an email and password (or a passkey,
 * in the Passkeys section); an account changes its password; anyone deletes theirs.
 * An account has a password exactly when it has an email (passkey-only accounts have
 * neither).
 */
export function AccountSection({
  user,
  onUpgraded,
}: {
  user: SessionUser;
  onUpgraded: () => void;
}) {
  return (
    <>
      {user.isGuest ? (
        <UpgradeForm onUpgraded={onUpgraded} />
      ) : user.email ? (
        <PasswordForm />
      ) : null}
      <section className={`card ${styles.section}`} aria-labelledby="export-title">
        <h2 id="export-title" className={styles.sectionTitle}>
          Your data
        </h2>
        <p className="muted">
          One archive (tar) with your profile, your rooms, every message you wrote and every file
          you shared.
        </p>
        <div className={styles.row}>
          <ExportButton url="/api/account/export" label="Export my data" />
        </div>
      </section>
      <DeleteAccount hasPassword={!!user.email} />
    </>
  );
}

function useAction() {
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function run(fn: () => Promise<string | void>) {
    setError(null);
    setDone(null);
    setBusy(true);
    try {
      const result = await fn();
      if (result) setDone(result);
    } catch (err) {
      setError(message(err));
    } finally {
      setBusy(false);
    }
  }
  const feedback = (
    <>
      {error && (
        <p role="alert" className="alert">
          {error}
        </p>
      )}
      {done && <p role="status">{done}</p>}
    </>
  );
  return { busy, run, feedback };
}

function UpgradeForm({ onUpgraded }: { onUpgraded: () => void }) {
  const id = useId();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const { busy, run, feedback } = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await upgradeGuest({ email, password });
      onUpgraded();
    });
  };
  return (
    <section className={`card ${styles.section}`} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className={styles.sectionTitle}>
        Keep this account
      </h2>
      <p className="muted">
        You are a guest. Add an email and password (or a passkey, above) to sign in again later;
        your rooms and history stay yours.
      </p>
      {feedback}
      <form className={styles.form} onSubmit={submit} noValidate>
        <label htmlFor={`${id}-email`}>Email</label>
        <input
          id={`${id}-email`}
          className="input"
          type="email"
          autoComplete="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
        />
        <label htmlFor={`${id}-password`}>Password</label>
        <input
          id={`${id}-password`}
          className="input"
          type="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <button type="submit" className="btn btn-primary" disabled={busy}>
          Create account
        </button>
      </form>
    </section>
  );
}

function PasswordForm() {
  const id = useId();
  const [currentPassword, setCurrent] = useState("");
  const [newPassword, setNew] = useState("");
  const { busy, run, feedback } = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await changePassword({ currentPassword, newPassword });
      setCurrent("");
      setNew("");
      return "Password changed. Your other sessions have ended.";
    });
  };
  return (
    <section className={`card ${styles.section}`} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className={styles.sectionTitle}>
        Password
      </h2>
      {feedback}
      <form className={styles.form} onSubmit={submit} noValidate>
        <label htmlFor={`${id}-current`}>Current password</label>
        <input
          id={`${id}-current`}
          className="input"
          type="password"
          autoComplete="current-password"
          value={currentPassword}
          onChange={(e) => setCurrent(e.target.value)}
        />
        <label htmlFor={`${id}-new`}>New password</label>
        <input
          id={`${id}-new`}
          className="input"
          type="password"
          autoComplete="new-password"
          value={newPassword}
          onChange={(e) => setNew(e.target.value)}
        />
        <button type="submit" className="btn" disabled={busy}>
          Change password
        </button>
      </form>
    </section>
  );
}

function DeleteAccount({ hasPassword }: { hasPassword: boolean }) {
  const id = useId();
  const [confirming, setConfirming] = useState(false);
  const [password, setPassword] = useState("");
  const { busy, run, feedback } = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(async () => {
      await deleteAccount({ password: hasPassword ? password : undefined });
      await signOut({ callbackUrl: "/signin" });
    });
  };
  return (
    <section className={`card ${styles.section}`} aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`} className={styles.sectionTitle}>
        Delete account
      </h2>
      <p className="muted">
        Your messages are erased, your files deleted, and rooms you own pass to their
        longest-standing member (a room with no one else in it is deleted). This cannot be undone.
      </p>
      {feedback}
      {!confirming ? (
        <button type="button" className="btn btn-danger" onClick={() => setConfirming(true)}>
          Delete account
        </button>
      ) : (
        <form className={styles.form} onSubmit={submit} noValidate>
          {hasPassword && (
            <>
              <label htmlFor={`${id}-password`}>Your password</label>
              <input
                id={`${id}-password`}
                className="input"
                type="password"
                autoComplete="current-password"
                value={password}
                onChange={(e) => setPassword(e.target.value)}
              />
            </>
          )}
          <div className={styles.row}>
            <button type="submit" className="btn btn-danger" disabled={busy}>
              Delete my account permanently
            </button>
            <button type="button" className="btn" onClick={() => setConfirming(false)}>
              Cancel
            </button>
          </div>
        </form>
      )}
    </section>
  );
}
