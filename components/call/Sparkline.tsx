/** A small line graph of the last minute, in plain SVG (no chart library). */

/** Drawn size in CSS pixels. */
const WIDTH = 100;
const HEIGHT = 28;

/**
 * `values` oldest first, one a second, at most `slots` of them; the newest is at the right
 * edge and gaps (null) break the line. The scale runs from 0 to the larger of the highest
 * value and `floor`, so a steady or tiny signal is drawn flat and low, not as a cliff.
 */
export function Sparkline({
  values,
  slots,
  floor,
  label,
}: {
  values: readonly (number | null)[];
  slots: number;
  floor: number;
  /** The accessible name: what it shows and its range. */
  label: string;
}) {
  const top = Math.max(floor, ...values.map((v) => v ?? 0));
  const offset = slots - values.length;
  let path = "";
  let drawing = false;
  values.forEach((value, i) => {
    if (value === null) {
      drawing = false;
      return;
    }
    const x = ((offset + i) / Math.max(1, slots - 1)) * WIDTH;
    const y = HEIGHT - 1 - (value / top) * (HEIGHT - 2);
    path += `${drawing ? "L" : "M"}${x.toFixed(1)} ${y.toFixed(1)}`;
    drawing = true;
  });
  return (
    <svg
      width={WIDTH}
      height={HEIGHT}
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      role="img"
      aria-label={label}
      preserveAspectRatio="none"
    >
      <line
        x1={0}
        x2={WIDTH}
        y1={HEIGHT - 0.5}
        y2={HEIGHT - 0.5}
        stroke="currentColor"
        strokeOpacity={0.25}
      />
      {path && (
        <path d={path} fill="none" stroke="currentColor" strokeWidth={1.5} strokeLinejoin="round" />
      )}
    </svg>
  );
}
