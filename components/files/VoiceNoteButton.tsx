"use client";

import { useEffect, useRef, useState } from "react";
import { VoiceRecorder } from "./voice-recorder";
import styles from "./Files.module.css";
import { MicrophoneIcon } from "./icons";

/**
 * Records a voice note in the composer: `Record voice note` starts, `Stop recording`
 * attaches it to the message, `Discard recording` throws it away.
 */
export function VoiceNoteButton({ onRecorded }: { onRecorded(file: File): void }) {
  const recorder = useRef<VoiceRecorder | null>(null);
  const [startedAt, setStartedAt] = useState<number | null>(null);
  const [now, setNow] = useState(0);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (startedAt === null) return;
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [startedAt]);
  // Leaving the page mid-recording releases the microphone.
  useEffect(() => () => recorder.current?.discard(), []);

  async function start() {
    setError(null);
    try {
      recorder.current = await VoiceRecorder.start();
      setStartedAt(Date.now());
      setNow(Date.now());
    } catch (err) {
      setError((err as Error).message);
    }
  }

  async function stop() {
    const current = recorder.current;
    recorder.current = null;
    setStartedAt(null);
    if (current) onRecorded(await current.stop());
  }

  function discard() {
    recorder.current?.discard();
    recorder.current = null;
    setStartedAt(null);
  }

  if (startedAt !== null) {
    const seconds = Math.max(0, Math.floor((now - startedAt) / 1000));
    return (
      <span className={styles.recording}>
        <span className={styles.recordingDot} aria-hidden="true" />
        <span aria-live="polite">
          Recording {Math.floor(seconds / 60)}:{String(seconds % 60).padStart(2, "0")}
        </span>
        <button type="button" className="btn btn-small btn-primary" onClick={() => void stop()}>
          Stop recording
        </button>
        <button type="button" className="btn btn-small btn-ghost" onClick={discard}>
          Discard recording
        </button>
      </span>
    );
  }
  return (
    <>
      <button
        type="button"
        className={`btn btn-ghost ${styles.iconButton}`}
        onClick={() => void start()}
        title="Record a voice note"
      >
        <MicrophoneIcon />
        <span className="visually-hidden">Record voice note</span>
      </button>
      {error && (
        <span role="alert" className={styles.draftError}>
          {error}
        </span>
      )}
    </>
  );
}
