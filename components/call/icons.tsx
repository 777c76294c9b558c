/** Small inline icons for the call controls (no icon font, nothing to download). */
import type { ReactElement } from "react";

const paths = {
  mic: "M12 3a3 3 0 0 0-3 3v6a3 3 0 0 0 6 0V6a3 3 0 0 0-3-3Zm-7 9a7 7 0 0 0 6 6.93V21h2v-2.07A7 7 0 0 0 19 12h-2a5 5 0 0 1-10 0H5Z",
  micOff:
    "M3.3 2 2 3.3l6 6V12a4 4 0 0 0 5.9 3.5l1.5 1.5A6 6 0 0 1 7 12H5a8 8 0 0 0 6 7.7V22h2v-2.3a7.9 7.9 0 0 0 3.8-1.6l3.9 3.9 1.3-1.3ZM16 11.2V6a4 4 0 0 0-7.7-1.5ZM19 12h-2a5 5 0 0 1-.3 1.6l1.5 1.5A7 7 0 0 0 19 12Z",
  camera:
    "M4 6a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2v-2.5l5 3.5V7l-5 3.5V8a2 2 0 0 0-2-2Z",
  cameraOff:
    "M3.3 2 2 3.3 4.7 6H4a2 2 0 0 0-2 2v8a2 2 0 0 0 2 2h10c.5 0 .9-.2 1.3-.5l5.4 5.4 1.3-1.3Zm12.7 8.5V8a2 2 0 0 0-2-2H9.5L16 12.5V13.5l5 3.5V7Z",
  screen:
    "M3 4h18a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1h-7v2h3v2H7v-2h3v-2H3a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1Zm9 3-4 4h3v3h2v-3h3Z",
  leave:
    "M12 9c-2.7 0-5.3.5-7.8 1.5A2 2 0 0 0 3 12.4V15a1 1 0 0 0 1.2 1l3.6-.8a1 1 0 0 0 .8-1v-2.3a14 14 0 0 1 6.8 0v2.3a1 1 0 0 0 .8 1l3.6.8A1 1 0 0 0 21 15v-2.6a2 2 0 0 0-1.2-1.9A21 21 0 0 0 12 9Z",
  stats: "M3 20h18v-2H3Zm2-4h3V10H5Zm5.5 0h3V5h-3Zm5.5 0h3v-8h-3Z",
  settings:
    "M19.4 13a7.5 7.5 0 0 0 0-2l2.1-1.6-2-3.5-2.5 1a7.3 7.3 0 0 0-1.7-1L15 3h-4l-.4 2.9a7.3 7.3 0 0 0-1.7 1l-2.5-1-2 3.5L6.6 11a7.5 7.5 0 0 0 0 2l-2.1 1.6 2 3.5 2.5-1c.5.4 1.1.7 1.7 1L11 21h4l.4-2.9c.6-.3 1.2-.6 1.7-1l2.5 1 2-3.5ZM13 15.5a3.5 3.5 0 1 1 0-7 3.5 3.5 0 0 1 0 7Z",
} as const;

export type IconName = keyof typeof paths;

export function Icon({ name, size = 20 }: { name: IconName; size?: number }): ReactElement {
  return (
    <svg width={size} height={size} viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <path d={paths[name]} fill="currentColor" />
    </svg>
  );
}
