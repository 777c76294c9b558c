"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import type { Participant } from "@/lib/realtime/protocol";
import { openDirectRoom, removeMember } from "@/lib/rooms/client";
import styles from "./Room.module.css";

/**
 * The `Participants` region: who has the room open now, on any device. The room's owner
 * may remove anyone else (`Remove from room`).
 */
export function Participants({
  participants,
  meId,
  slug,
  canRemove,
}: {
  participants: Participant[];
  meId: string;
  slug: string;
  canRemove: boolean;
}) {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);

  async function message(p: Participant) {
    setError(null);
    try {
      const room = await openDirectRoom(p.userId);
      router.push(`/r/${room.slug}`);
    } catch (err) {
      setError(err instanceof Error ? err.message : "Could not open the conversation");
    }
  }

  async function remove(p: Participant) {
    if (
      !window.confirm(`Remove ${p.displayName} from this room? Its link will not let them back in.`)
    )
      return;
    setError(null);
    try {
      await removeMember(slug, p.userId);
    } catch (err) {
      setError(err instanceof Error ? err.message : "Could not remove them");
    }
  }

  return (
    <section className={styles.participants} aria-label="Participants">
      <h2 className={styles.sideTitle}>
        Here now <span className="muted">({participants.length})</span>
      </h2>
      <ul className={styles.people}>
        {participants.map((p) => (
          <li key={p.userId} className={styles.person}>
            <span className={styles.dot} aria-hidden="true" />
            <span className={styles.personName}>{p.displayName}</span>
            {p.userId === meId && <span className="muted"> (you)</span>}
            {p.isGuest && <span className={styles.tag}>guest</span>}
            {p.userId !== meId && (
              <button
                type="button"
                className={`btn btn-ghost btn-small ${styles.dm}`}
                onClick={() => void message(p)}
                aria-label={`Message ${p.displayName}`}
                title={`Message ${p.displayName} privately`}
              >
                Message
              </button>
            )}
            {canRemove && p.userId !== meId && (
              <button
                type="button"
                className="btn btn-ghost btn-small"
                onClick={() => void remove(p)}
                aria-label="Remove from room"
                title={`Remove ${p.displayName} from this room`}
              >
                Remove
              </button>
            )}
          </li>
        ))}
      </ul>
      {error && (
        <p role="alert" className="alert">
          {error}
        </p>
      )}
    </section>
  );
}
