"use client";

import type { Call } from "@/lib/call/client/call";
import { type CallSnapshot, cameraOn, microphoneOn } from "@/lib/call/client/state";
import { Icon, type IconName } from "./icons";
import styles from "./Call.module.css";

const TOGGLES = {
  microphone: {
    label: "Microphone",
    noun: "microphone",
    on: "mic",
    off: "micOff",
    isOn: microphoneOn,
  },
  camera: { label: "Camera", noun: "camera", on: "camera", off: "cameraOff", isOn: cameraOn },
} satisfies Record<
  string,
  { label: string; noun: string; on: IconName; off: IconName; isOn: (s: CallSnapshot) => boolean }
>;

/**
 * The `Microphone` or `Camera` toggle (`aria-pressed`): the call's own controls and the call
 * bar show the same one, in their own size (`className`, `iconSize`).
 */
export function MediaToggle({
  call,
  state,
  kind,
  className,
  iconSize,
}: {
  call: Call;
  state: CallSnapshot;
  kind: keyof typeof TOGGLES;
  className: string;
  iconSize?: number;
}) {
  const toggle = TOGGLES[kind];
  const on = toggle.isOn(state);
  return (
    <button
      type="button"
      className={`${className} ${on ? "" : styles.off}`}
      aria-label={toggle.label}
      aria-pressed={on}
      title={`Turn ${on ? "off" : "on"} ${toggle.noun}`}
      onClick={() => void (kind === "microphone" ? call.setMicrophone(!on) : call.setCamera(!on))}
    >
      <Icon name={on ? toggle.on : toggle.off} size={iconSize} />
    </button>
  );
}
