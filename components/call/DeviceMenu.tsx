"use client";

import { useId, useRef, useState } from "react";
import { useDismiss } from "@/components/ui/use-dismiss";
import type { Call } from "@/lib/call/client/call";
import type { CallSnapshot } from "@/lib/call/client/state";
import { Icon } from "./icons";
import styles from "./Call.module.css";

/** A menu to pick the microphone, camera and (where the browser can) speaker. */
export function DeviceMenu({ call, state }: { call: Call; state: CallSnapshot }) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const id = useId();

  useDismiss(open, () => setOpen(false), [root]);

  const { devices, chosen } = state;
  const current = (kind: "microphone" | "camera", list: MediaDeviceInfo[]) =>
    chosen[kind] ?? state[kind].track?.getSettings().deviceId ?? list[0]?.deviceId ?? "";

  return (
    <div className={styles.menuRoot} ref={root}>
      <button
        type="button"
        className={`btn ${styles.control}`}
        aria-label="Devices"
        title="Choose microphone, camera and speaker"
        aria-haspopup="true"
        aria-expanded={open}
        aria-controls={id}
        onClick={() => setOpen((o) => !o)}
      >
        <Icon name="settings" />
      </button>
      {open && (
        <div id={id} className={`card ${styles.menu}`} data-popup>
          <DeviceSelect
            label="Choose microphone"
            devices={devices.microphones}
            value={current("microphone", devices.microphones)}
            onChange={(deviceId) => void call.chooseDevice("microphone", deviceId)}
          />
          <DeviceSelect
            label="Choose camera"
            devices={devices.cameras}
            value={current("camera", devices.cameras)}
            onChange={(deviceId) => void call.chooseDevice("camera", deviceId)}
          />
          {devices.speakers.length > 0 && (
            <DeviceSelect
              label="Choose speaker"
              devices={devices.speakers}
              value={chosen.speaker ?? "default"}
              onChange={(deviceId) => void call.chooseDevice("speaker", deviceId)}
            />
          )}
        </div>
      )}
    </div>
  );
}

function DeviceSelect(props: {
  label: string;
  devices: MediaDeviceInfo[];
  value: string;
  onChange: (deviceId: string) => void;
}) {
  const id = useId();
  return (
    <div className={styles.field}>
      <label htmlFor={id}>{props.label}</label>
      <select
        id={id}
        className="input"
        value={props.value}
        disabled={props.devices.length === 0}
        onChange={(event) => props.onChange(event.target.value)}
      >
        {props.devices.length === 0 && <option value="">None found</option>}
        {props.devices.map((device, i) => (
          <option key={device.deviceId} value={device.deviceId}>
            {device.label || `Device ${i + 1}`}
          </option>
        ))}
      </select>
    </div>
  );
}
