"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, useSyncExternalStore } from "react";
import { notifyApi } from "@/lib/notify/client/api";
import { enablePush, pushSupported } from "@/lib/notify/client/push";
import {
  playChime,
  setSoundEnabled,
  soundEnabled,
  subscribeSound,
} from "@/lib/notify/client/sound";
import type { PrefsView } from "@/lib/notify/schemas";
import styles from "./Notify.module.css";

const DND_CHOICES = [
  { minutes: 60, label: "1 hour" },
  { minutes: 8 * 60, label: "8 hours" },
  { minutes: 24 * 60, label: "24 hours" },
  { minutes: 7 * 24 * 60, label: "1 week" },
];

/** Settings' Notifications section: this device, the devices listed, do-not-disturb, privacy, email. */
export function NotificationSettings({
  classes,
}: {
  /** The settings page's own section and title styles. */
  classes: { section: string; title: string };
}) {
  const queryClient = useQueryClient();
  const devices = useQuery({ queryKey: ["notify-devices"], queryFn: notifyApi.devices });
  const prefs = useQuery({ queryKey: ["notify-prefs"], queryFn: notifyApi.prefs });
  const [dndMinutes, setDndMinutes] = useState(60);
  const [status, setStatus] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // Per device, in localStorage (off when rendered on the server).
  const sound = useSyncExternalStore(subscribeSound, soundEnabled, () => false);

  async function run(what: () => Promise<void>, done: string) {
    setError(null);
    setBusy(true);
    try {
      await what();
      setStatus(done);
    } catch (err) {
      setError(err instanceof Error ? err.message : "Something went wrong");
    } finally {
      setBusy(false);
    }
  }

  const savePrefs = (input: Parameters<typeof notifyApi.updatePrefs>[0], done: string) =>
    run(async () => {
      queryClient.setQueryData<PrefsView>(["notify-prefs"], await notifyApi.updatePrefs(input));
    }, done);

  const dndOn = !!prefs.data?.dndUntil;

  return (
    <section className={classes.section} aria-labelledby="notifications-title">
      <h2 id="notifications-title" className={classes.title}>
        Notifications
      </h2>
      <p className="muted">
        Parley tells this device about mentions, direct messages and calls while Parley is closed.
        Each room&apos;s <em>Notifications</em> button sets what reaches you from it.
      </p>
      <div className={styles.row}>
        <button
          type="button"
          className="btn btn-primary"
          disabled={busy || !pushSupported()}
          onClick={() =>
            void run(async () => {
              await enablePush();
              await queryClient.invalidateQueries({ queryKey: ["notify-devices"] });
            }, "Notifications are on for this device")
          }
        >
          Turn on notifications
        </button>
        {!pushSupported() && <span className="muted">This browser cannot receive them.</span>}
      </div>
      {devices.data && devices.data.subscriptions.length > 0 && (
        <ul className={styles.devices} aria-label="Devices">
          {devices.data.subscriptions.map((d) => (
            <li key={d.id} className={styles.device}>
              <span>
                {d.label}{" "}
                <span className="muted">since {new Date(d.createdAt).toLocaleDateString()}</span>
              </span>
              <button
                type="button"
                className="btn btn-small btn-ghost"
                aria-label={`Remove ${d.label}`}
                onClick={() =>
                  void run(async () => {
                    await notifyApi.removeDevice(d.id);
                    await queryClient.invalidateQueries({ queryKey: ["notify-devices"] });
                  }, `${d.label} removed`)
                }
              >
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <div className={styles.row}>
        <button
          type="button"
          className="btn"
          aria-pressed={dndOn}
          disabled={busy || !prefs.data}
          onClick={() =>
            void savePrefs(
              { dndMinutes: dndOn ? 0 : dndMinutes },
              dndOn ? "Do not disturb is off" : "Do not disturb is on",
            )
          }
        >
          Do not disturb
        </button>
        {dndOn ? (
          <span className="muted">
            until{" "}
            {new Date(prefs.data!.dndUntil!).toLocaleString([], {
              dateStyle: "short",
              timeStyle: "short",
            })}
          </span>
        ) : (
          <label className={styles.row}>
            for
            <select
              className="input"
              value={dndMinutes}
              onChange={(e) => setDndMinutes(Number(e.target.value))}
            >
              {DND_CHOICES.map((c) => (
                <option key={c.minutes} value={c.minutes}>
                  {c.label}
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      <label className={styles.check}>
        <input
          type="checkbox"
          checked={sound}
          onChange={(e) => {
            setSoundEnabled(e.target.checked);
            if (e.target.checked) playChime();
          }}
        />
        Play a sound on this device
      </label>
      <label className={styles.check}>
        <input
          type="checkbox"
          checked={prefs.data?.privacy ?? false}
          disabled={busy || !prefs.data}
          onChange={(e) => void savePrefs({ privacy: e.target.checked }, "Saved")}
        />
        Hide what messages say in notifications
      </label>
      <label className={styles.check}>
        <input
          type="checkbox"
          checked={prefs.data?.emailDigest ?? true}
          disabled={busy || !prefs.data}
          onChange={(e) => void savePrefs({ emailDigest: e.target.checked }, "Saved")}
        />
        Email me mentions and direct messages I have not read
      </label>
      <span role="status" className="muted">
        {status}
      </span>
      {error && (
        <p role="alert" className="alert">
          {error}
        </p>
      )}
    </section>
  );
}
