"use client";

import { useHydrated } from "./use-hydrated";

/**
 * How a time reads in the viewer's own locale and time zone:
 * - `time`: hours and minutes;
 * - `date`: the date;
 * - `recent`: hours and minutes today, the month and day before.
 */
export type TimeStyle = "time" | "date" | "recent";

/**
 * A time as a `<time dateTime>` in the viewer's locale and zone. The server knows neither,
 * so what it renders, and what hydration renders to match it, is the same fixed UTC text
 * (`14:05 UTC`, `2026-12-04`); the local text replaces it right after hydration. Mounted
 * later (a new message, a client navigation), it shows the local text at once.
 */
export function LocalTime({
  dateTime,
  style,
  className,
  withTitle = false,
}: {
  /** ISO 8601, as the API sends times. */
  dateTime: string;
  style: TimeStyle;
  className?: string;
  /** Also show the full date and time on hover. */
  withTitle?: boolean;
}) {
  const hydrated = useHydrated();
  const date = new Date(dateTime);
  const text = hydrated ? localText(date, style, new Date()) : utcText(date, style);
  const title = withTitle
    ? hydrated
      ? date.toLocaleString()
      : `${utcText(date, "date")} ${utcText(date, "time")}`
    : undefined;
  return (
    <time className={className} dateTime={dateTime} title={title}>
      {text}
    </time>
  );
}

function localText(date: Date, style: TimeStyle, now: Date): string {
  const hoursAndMinutes = () => date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (style === "time") return hoursAndMinutes();
  if (style === "date") return date.toLocaleDateString();
  return date.toDateString() === now.toDateString()
    ? hoursAndMinutes()
    : date.toLocaleDateString([], { month: "short", day: "numeric" });
}

/** The same on every machine: no locale, no zone, only the UTC fields of the ISO form. */
function utcText(date: Date, style: TimeStyle): string {
  const iso = date.toISOString();
  return style === "date" ? iso.slice(0, 10) : `${iso.slice(11, 16)} UTC`;
}
