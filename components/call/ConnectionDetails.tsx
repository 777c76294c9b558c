"use client";

import { type CSSProperties, type ToggleEvent, useId, useRef, useState } from "react";
import {
  describeQuality,
  lossOf,
  type Quality,
  type QualityPoint,
  SAMPLES_KEPT,
} from "@/lib/call/client/quality";
import { Icon } from "./icons";
import { Sparkline } from "./Sparkline";
import styles from "./Call.module.css";

/** The panel's width in CSS pixels (Call.module.css `.details`), to keep it on screen. */
const PANEL_WIDTH = 300;
/** About its height, to open it above the button when there is no room below. */
const PANEL_HEIGHT = 300;

/**
 * A tile's `Connection details for <name>` button and its panel: live bitrate, resolution,
 * frame rate, loss and round trip with a graph of the last minute each. The panel is a
 * native popover: it sits in the top layer, so the tile's rounded clipping cannot cut it
 * off; Esc and a click elsewhere close it, and Tab from the button walks into it.
 */
export function ConnectionDetails({
  name,
  points,
  quality,
}: {
  name: string;
  points: readonly QualityPoint[];
  quality: Quality | null;
}) {
  const id = useId();
  const button = useRef<HTMLButtonElement>(null);
  const [place, setPlace] = useState<CSSProperties | null>(null);
  const title = `Connection details for ${name}`;

  // Placed beside its button as it opens (below it, or above when there is no room).
  const onBeforeToggle = (event: ToggleEvent<HTMLDivElement>) => {
    if (event.newState !== "open") return setPlace(null);
    const rect = button.current!.getBoundingClientRect();
    const left = Math.max(
      8,
      Math.min(rect.right - PANEL_WIDTH, window.innerWidth - PANEL_WIDTH - 8),
    );
    const below = rect.bottom + 6 + PANEL_HEIGHT <= window.innerHeight;
    setPlace(
      below
        ? { left, top: rect.bottom + 6 }
        : { left, bottom: Math.max(8, window.innerHeight - rect.top + 6) },
    );
  };

  const last = points.at(-1);
  const video = last?.width != null && last.height != null;
  const rows = [
    {
      label: "Bitrate",
      value: last ? formatBitrate(last.bitrate) : "—",
      series: points.map((p) => p.bitrate),
      floor: 100_000,
      format: formatBitrate,
    },
    {
      label: "Resolution",
      value: video ? `${last.width}×${last.height}` : "no video",
      series: points.map((p) => p.height),
      floor: 360,
      format: (h: number) => `${Math.round(h)}p`,
    },
    {
      label: "Frame rate",
      value: last?.framesPerSecond != null ? formatFrameRate(last.framesPerSecond) : "—",
      series: points.map((p) => p.framesPerSecond),
      floor: 30,
      format: formatFrameRate,
    },
    {
      label: "Packet loss",
      // The worst track's, as the level counts it.
      value: last ? formatLoss(lossOf([last])) : "—",
      series: points.map((p) => lossOf([p])),
      // 5 %: a trace of loss stays low on the graph instead of filling it.
      floor: 0.05,
      format: formatLoss,
    },
    {
      label: "Round trip",
      value: last?.rtt != null ? formatRtt(last.rtt) : "—",
      series: points.map((p) => p.rtt),
      floor: 0.1,
      format: formatRtt,
    },
  ];

  return (
    <>
      <button
        ref={button}
        type="button"
        className={styles.detailsButton}
        aria-label={title}
        title="Connection details"
        popoverTarget={id}
      >
        <Icon name="stats" size={14} />
      </button>
      <div
        id={id}
        popover="auto"
        role="dialog"
        aria-label={title}
        className={`card ${styles.details}`}
        style={place ?? undefined}
        onBeforeToggle={onBeforeToggle}
      >
        {place && (
          <>
            <div className={styles.detailsHead}>
              <strong>{name}</strong>
              <span>{quality ? describeQuality(quality) : "Measuring…"}</span>
              <button
                type="button"
                className={styles.detailsClose}
                aria-label="Close connection details"
                popoverTarget={id}
                popoverTargetAction="hide"
              >
                ×
              </button>
            </div>
            <dl className={styles.detailsList}>
              {rows.map((row) => (
                <div key={row.label} className={styles.detailsRow}>
                  <dt>{row.label}</dt>
                  <dd>{row.value}</dd>
                  <dd>
                    <Sparkline
                      values={row.series}
                      slots={SAMPLES_KEPT - 1}
                      floor={row.floor}
                      label={`${row.label} over the last minute: ${range(row.series, row.format)}`}
                    />
                  </dd>
                </div>
              ))}
            </dl>
            <p className={styles.detailsNote}>What you receive from {name}, the last minute.</p>
          </>
        )}
      </div>
    </>
  );
}

function range(series: readonly (number | null)[], format: (value: number) => string): string {
  const values = series.filter((v): v is number => v !== null);
  if (values.length === 0) return "no data yet";
  return `${format(Math.min(...values))} to ${format(Math.max(...values))}`;
}

function formatBitrate(bps: number): string {
  return bps >= 1_000_000
    ? `${(bps / 1_000_000).toFixed(1)} Mbps`
    : `${Math.round(bps / 1_000)} kbps`;
}

function formatFrameRate(fps: number): string {
  return `${Math.round(fps)} fps`;
}

function formatLoss(fraction: number | null): string {
  return fraction === null ? "—" : `${(fraction * 100).toFixed(1)} %`;
}

function formatRtt(seconds: number): string {
  return `${Math.round(seconds * 1000)} ms`;
}
