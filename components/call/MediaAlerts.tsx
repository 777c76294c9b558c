"use client";

import type { MediaProblem } from "@/lib/call/client/local-media";
import styles from "./Call.module.css";

/** A visible alert per device that could not be used; the call goes on without it. */
export function MediaAlerts({
  problems,
  onDismiss,
}: {
  problems: MediaProblem[];
  onDismiss: (device: MediaProblem["device"]) => void;
}) {
  if (problems.length === 0) return null;
  return (
    <div className={styles.alerts}>
      {problems.map((problem) => (
        <div key={problem.device} role="alert" className={`alert ${styles.alert}`}>
          <span>
            <strong>{label(problem.device)}:</strong> {problem.message}
          </span>
          <button
            type="button"
            className="btn btn-ghost btn-small"
            aria-label="Dismiss"
            onClick={() => onDismiss(problem.device)}
          >
            ×
          </button>
        </div>
      ))}
    </div>
  );
}

function label(device: MediaProblem["device"]): string {
  return device === "microphone" ? "Microphone" : device === "camera" ? "Camera" : "Screen sharing";
}
