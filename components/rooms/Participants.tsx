"use client";

import type { Participant } from "@/lib/realtime/protocol";
import styles from "./Room.module.css";

/** The `Participants` region: who has the room open now, on any device. */
export function Participants({ participants, meId }: { participants: Participant[]; meId: string }) {
  return (
    <section className={styles.participants} aria-label="Participants">
      <h2 className={styles.sideTitle}>
        Here now <span className="muted">({participants.length})</span>
      </h2>
      <ul className={styles.people}>
        {participants.map((p) => (
          <li key={p.userId} className={styles.person}>
            <span className={styles.dot} aria-hidden="true" />
            <span>{p.displayName}</span>
            {p.userId === meId && <span className="muted"> (you)</span>}
            {p.isGuest && <span className={styles.tag}>guest</span>}
          </li>
        ))}
      </ul>
    </section>
  );
}
