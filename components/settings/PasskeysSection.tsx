"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState, useSyncExternalStore } from "react";
import {
  addPasskey,
  browserSupportsWebAuthn,
  fetchPasskeys,
  removePasskey,
  renamePasskey,
} from "@/lib/auth/client";
import type { PasskeyView } from "@/lib/auth/passkeys";
import styles from "./SettingsView.module.css";

const noSubscription = () => () => {};

const when = (iso: string) =>
  new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });

/**
 * `Add passkey`, and the list of your passkeys: name (editable), when added and last used,
 * whether it is synced, and `Remove passkey`. For a guest, adding one turns the guest into
 * an account (`onUpgraded`).
 */
export function PasskeysSection({
  isGuest,
  onUpgraded,
}: {
  isGuest: boolean;
  onUpgraded: () => void;
}) {
  const queryClient = useQueryClient();
  const query = useQuery({ queryKey: ["passkeys"], queryFn: fetchPasskeys });
  const list = query.data ?? null;
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // Known only in the browser; the server renders the button enabled.
  const supported = useSyncExternalStore(noSubscription, browserSupportsWebAuthn, () => true);
  const reload = () => queryClient.invalidateQueries({ queryKey: ["passkeys"] });

  async function act(fn: () => Promise<unknown>) {
    setError(null);
    setBusy(true);
    try {
      await fn();
      await reload();
    } catch (err) {
      setError(err instanceof Error ? err.message : "Something went wrong; try again");
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className={`card ${styles.section}`} aria-labelledby="passkeys-title">
      <h2 id="passkeys-title" className={styles.sectionTitle}>
        Passkeys
      </h2>
      <p className="muted">
        {isGuest
          ? "Add a passkey to keep this identity as an account: your rooms and history stay, and you sign in again with your fingerprint, face or device PIN."
          : "Sign in with your fingerprint, face or device PIN instead of a password."}
      </p>
      {(error ?? query.error) && (
        <p role="alert" className="alert">
          {error ?? query.error?.message}
        </p>
      )}
      {!supported && <p className="muted">This browser does not support passkeys.</p>}
      {list && list.length > 0 && (
        <ul className={styles.list} aria-label="Your passkeys">
          {list.map((p) => (
            <PasskeyItem
              key={p.id}
              passkey={p}
              busy={busy}
              onRename={(name) => act(() => renamePasskey(p.id, name))}
              onRemove={() => act(() => removePasskey(p.id))}
            />
          ))}
        </ul>
      )}
      {list && list.length === 0 && <p className="muted">No passkeys yet.</p>}
      <button
        type="button"
        className="btn btn-primary"
        disabled={busy || !supported}
        onClick={() =>
          void act(async () => {
            await addPasskey();
            if (isGuest) onUpgraded();
          })
        }
      >
        Add passkey
      </button>
    </section>
  );
}

function PasskeyItem({
  passkey,
  busy,
  onRename,
  onRemove,
}: {
  passkey: PasskeyView;
  busy: boolean;
  onRename: (name: string) => Promise<void>;
  onRemove: () => Promise<void>;
}) {
  const [name, setName] = useState(passkey.name);
  const id = useId();
  return (
    <li className={styles.item}>
      <form
        className={styles.row}
        onSubmit={(e) => {
          e.preventDefault();
          void onRename(name);
        }}
      >
        <label htmlFor={`${id}-name`} className="visually-hidden">
          Passkey name
        </label>
        <input
          id={`${id}-name`}
          className="input"
          value={name}
          maxLength={64}
          onChange={(e) => setName(e.target.value)}
        />
        <button type="submit" className="btn btn-small" disabled={busy || name === passkey.name}>
          Rename
        </button>
        <button
          type="button"
          className="btn btn-small btn-danger"
          disabled={busy}
          aria-describedby={`${id}-about`}
          onClick={() => void onRemove()}
        >
          Remove passkey
        </button>
      </form>
      <p id={`${id}-about`} className="muted">
        {passkey.name}: added {when(passkey.createdAt)} ·{" "}
        {passkey.lastUsedAt ? `last used ${when(passkey.lastUsedAt)}` : "never used to sign in"}
        {passkey.backedUp ? " · synced" : ""}
      </p>
    </li>
  );
}
