"use client";

import { signIn } from "next-auth/react";
import { type FormEvent, useEffect, useState } from "react";
import { cancelPasskeyCeremony, signInWithPasskey } from "@/lib/auth/client";
import styles from "./SignInForm.module.css";

type Action = "signin" | "create" | "guest" | "passkey";

/**
 * One form for the ways in: a guest needs only a display name; an account needs an email
 * and password (and a display name when it is created), or a passkey — from `Sign in with
 * a passkey`, or picked in the email field's autofill (conditional mediation, started when
 * the page opens). Errors show in an alert and change nothing.
 */
export function SignInForm({ returnTo, joiningRoom }: { returnTo: string; joiningRoom: boolean }) {
  const [displayName, setDisplayName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState<Action | null>(null);

  // The browser's passkey autofill on the email field: waits, in the background, until the
  // person picks a passkey from the field's suggestions (or another ceremony replaces it).
  useEffect(() => {
    let live = true;
    signInWithPasskey(true).then(
      (signedIn) => {
        if (signedIn && live) window.location.assign(returnTo);
      },
      (err: unknown) => {
        if (live) setError(err instanceof Error ? err.message : "That passkey was not accepted");
      },
    );
    return () => {
      live = false;
      cancelPasskeyCeremony();
    };
  }, [returnTo]);

  async function passkey() {
    setError(null);
    setBusy("passkey");
    try {
      await signInWithPasskey(false);
      window.location.assign(returnTo);
    } catch (err) {
      setError(err instanceof Error ? err.message : "That passkey was not accepted");
      setBusy(null);
    }
  }

  async function run(action: Action) {
    setError(null);
    const problem = check(action, { displayName, email, password });
    if (problem) {
      setError(problem);
      return;
    }
    setBusy(action);
    try {
      if (action === "create") {
        const res = await fetch("/api/accounts", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ email, password, displayName }),
        });
        if (!res.ok) {
          const body = (await res.json().catch(() => null)) as {
            error?: { message?: string };
          } | null;
          throw new Error(body?.error?.message ?? "Could not create the account");
        }
      }
      const result =
        action === "guest"
          ? await signIn("guest", { displayName, redirect: false })
          : await signIn("password", { email, password, redirect: false });
      if (result?.status === 429 && result.error) throw new Error(result.error);
      if (!result || result.error || !result.ok) {
        throw new Error(
          action === "guest"
            ? "Could not continue as a guest; try again"
            : "Wrong email or password",
        );
      }
      window.location.assign(returnTo);
    } catch (err) {
      setError(err instanceof Error ? err.message : "Something went wrong");
      setBusy(null);
    }
  }

  const submit = (action: Action) => (e?: FormEvent) => {
    e?.preventDefault();
    void run(action);
  };

  return (
    <main className={styles.page}>
      <div className={`card ${styles.card}`}>
        <h1 className={styles.title}>Parley</h1>
        <p className="muted">
          {joiningRoom
            ? "You've been invited to a room. Tell people who you are to join."
            : "Rooms for chat, calls and files."}
        </p>

        {error && (
          <div role="alert" className="alert">
            {error}
          </div>
        )}

        <form className={styles.section} onSubmit={submit("guest")} noValidate>
          <label className={styles.label} htmlFor="displayName">
            Display name
          </label>
          <input
            id="displayName"
            className="input"
            autoComplete="nickname"
            maxLength={64}
            value={displayName}
            onChange={(e) => setDisplayName(e.target.value)}
            aria-describedby="displayNameHelp"
          />
          <p id="displayNameHelp" className={styles.help}>
            How others see you. Enough to join as a guest; also used for a new account.
          </p>
          <button type="submit" className="btn btn-primary" disabled={busy !== null}>
            {busy === "guest" ? "Joining…" : "Continue as guest"}
          </button>
        </form>

        <div className={styles.divider}>
          <span>or with an account</span>
        </div>

        <form className={styles.section} onSubmit={submit("signin")} noValidate>
          <label className={styles.label} htmlFor="email">
            Email
          </label>
          <input
            id="email"
            className="input"
            type="email"
            autoComplete="username webauthn"
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
          <label className={styles.label} htmlFor="password">
            Password
          </label>
          <input
            id="password"
            className="input"
            type="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          <div className={styles.row}>
            <button type="submit" className="btn btn-primary" disabled={busy !== null}>
              {busy === "signin" ? "Signing in…" : "Sign in"}
            </button>
            <button
              type="button"
              className="btn"
              disabled={busy !== null}
              onClick={() => void run("create")}
            >
              {busy === "create" ? "Creating…" : "Create account"}
            </button>
          </div>
        </form>

        <div className={styles.divider}>
          <span>or</span>
        </div>

        <div className={styles.section}>
          <button
            type="button"
            className="btn"
            disabled={busy !== null}
            onClick={() => void passkey()}
          >
            {busy === "passkey" ? "Waiting for your passkey…" : "Sign in with a passkey"}
          </button>
          <p className={styles.help}>With your fingerprint, face or device PIN; no password.</p>
        </div>
      </div>
    </main>
  );
}

function check(
  action: Action,
  f: { displayName: string; email: string; password: string },
): string | null {
  if ((action === "guest" || action === "create") && !f.displayName.trim()) {
    return "Enter a display name";
  }
  if (action === "guest") return null;
  if (!f.email.trim()) return "Enter your email address";
  if (!/^[^\s@]+@[^\s@]+$/.test(f.email.trim())) return "Enter a valid email address";
  if (!f.password) return "Enter your password";
  if (action === "create" && f.password.length < 8) return "A password is at least 8 characters";
  return null;
}
