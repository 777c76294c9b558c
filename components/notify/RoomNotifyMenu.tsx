"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useRef, useState } from "react";
import { useDismiss } from "@/components/ui/use-dismiss";
import { notifyApi } from "@/lib/notify/client/api";
import type { NotifyLevel, RoomNotifyView } from "@/lib/notify/schemas";
import styles from "./Notify.module.css";

const LEVELS: { value: NotifyLevel; label: string }[] = [
  { value: "all", label: "All messages" },
  { value: "mentions", label: "Mentions and direct messages" },
  { value: "nothing", label: "Nothing" },
];

/**
 * The room header's `Notifications` button: what reaches you from this room (a level, and
 * mute), saved for you on every device.
 */
export function RoomNotifyMenu({ slug }: { slug: string }) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const queryClient = useQueryClient();
  const key = ["room-notify", slug];
  const { data } = useQuery({ queryKey: key, queryFn: () => notifyApi.room(slug), enabled: open });
  const panelId = useId();
  const wrapper = useRef<HTMLDivElement>(null);

  useDismiss(open, () => setOpen(false), [wrapper]);

  /** Shown at once, saved behind; a refusal puts back what the server has. */
  async function update(input: { level?: NotifyLevel; muted?: boolean }) {
    setError(null);
    const before = queryClient.getQueryData<RoomNotifyView>(key);
    if (before)
      queryClient.setQueryData<RoomNotifyView>(key, { ...before, ...input, chosen: true });
    try {
      queryClient.setQueryData<RoomNotifyView>(key, await notifyApi.updateRoom(slug, input));
    } catch (err) {
      if (before) queryClient.setQueryData<RoomNotifyView>(key, before);
      setError(err instanceof Error ? err.message : "Could not save");
    }
  }

  return (
    <div className={styles.menuWrap} ref={wrapper}>
      <button
        type="button"
        className="btn btn-small btn-ghost"
        aria-expanded={open}
        aria-controls={panelId}
        onClick={() => setOpen((o) => !o)}
      >
        Notifications{data?.muted ? " (muted)" : ""}
      </button>
      {open && (
        <div id={panelId} className={`card ${styles.menu}`} data-popup>
          <fieldset className={styles.fieldset} disabled={!data}>
            <legend className={styles.legend}>Notify me about</legend>
            {LEVELS.map((l) => (
              <label key={l.value} className={styles.radio}>
                <input
                  type="radio"
                  name={`${panelId}-level`}
                  value={l.value}
                  checked={data?.level === l.value}
                  onChange={() => void update({ level: l.value })}
                />
                {l.label}
              </label>
            ))}
          </fieldset>
          <button
            type="button"
            className="btn btn-small"
            aria-pressed={data?.muted ?? false}
            disabled={!data}
            onClick={() => void update({ muted: !data?.muted })}
          >
            Mute room
          </button>
          {error && (
            <p role="alert" className="alert">
              {error}
            </p>
          )}
        </div>
      )}
    </div>
  );
}
