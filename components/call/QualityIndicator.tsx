"use client";

import { useTileQuality } from "@/lib/call/client/hooks";
import {
  describeQuality,
  type Quality,
  type QualityLevel,
  type StatsSample,
} from "@/lib/call/client/quality";
import { ConnectionDetails } from "./ConnectionDetails";
import styles from "./Call.module.css";

const BARS: Record<QualityLevel, number> = { Good: 3, Weak: 2, Bad: 1 };

/**
 * A remote tile's connection quality (UI contract, "A call, quality"): signal bars and the
 * word, named `Good`, `Weak` or `Bad`, with the details button beside it. Shows once the
 * first interval has been measured (about two seconds into the call).
 */
export function TileQuality({
  name,
  samples,
  tracks,
  mediaExpected,
}: {
  /** The tile's accessible name (the participant's display name, or `… (screen)`). */
  name: string;
  samples: StatsSample[];
  /** The tile's received tracks. */
  tracks: readonly (MediaStreamTrack | null | undefined)[];
  /** Whether the tile should be receiving anything (a camera on, a microphone unmuted). */
  mediaExpected: boolean;
}) {
  const { points, quality } = useTileQuality(samples, tracks, mediaExpected);
  if (!quality) return null;
  return (
    <div className={styles.quality} data-quality={quality.level}>
      <QualityIndicator quality={quality} />
      <ConnectionDetails name={name} points={points} quality={quality} />
    </div>
  );
}

/** The bars and the word; the word alone is the accessible name, why is its description. */
function QualityIndicator({ quality }: { quality: Quality }) {
  const { level } = quality;
  return (
    <span
      role="img"
      aria-label={level}
      title={`Connection quality: ${describeQuality(quality)}`}
      className={styles.qualityLevel}
    >
      <svg width={12} height={12} viewBox="0 0 12 12" aria-hidden="true" focusable="false">
        {[0, 1, 2].map((i) => (
          <rect
            key={i}
            x={i * 4 + 0.5}
            y={8 - i * 3.5}
            width={3}
            height={4 + i * 3.5}
            rx={0.5}
            fill="currentColor"
            fillOpacity={i < BARS[level] ? 1 : 0.3}
          />
        ))}
      </svg>
      <span aria-hidden="true">{level}</span>
    </span>
  );
}
