/**
 * Which simulcast layer a subscriber gets for one track. The one place the choice is made
 * (docs/sfu.md, "Layer selection"): from the tile size the subscriber reports, its explicit
 * preference, and the cap its bandwidth allows (`bandwidth-allocation.ts`). Pure, so tests
 * can drive it directly.
 */
import type { SimulcastLayer } from "./protocol";
import type { LayerKey } from "./producer";

export const LAYER_ORDER: readonly SimulcastLayer[] = ["low", "medium", "high"];

/**
 * Heights the layers have when a camera sends 720p with the usual ¼, ½, 1 scaling. The
 * SFU does not decode video, so these nominal sizes stand in for the real ones.
 */
export const NOMINAL_HEIGHT: Record<SimulcastLayer, number> = { low: 180, medium: 360, high: 720 };

/** A layer may be shown up to this much larger than its height before we go up. */
const UPSCALE_ALLOWED = 1 / 0.85;
/** Going down needs the smaller layer to cover the tile with this much to spare (hysteresis). */
const DOWNSCALE_MARGIN = 1.15;

export interface LayerInputs {
  /** Layers that carry packets now, lowest first (`[null]` without simulcast). */
  active: LayerKey[];
  /** `setPreferredLayer`; null = let the SFU choose. */
  preferred: SimulcastLayer | null;
  /** `setTileSize` in device pixels; null = never reported; 0×0 = hidden. */
  tile: { width: number; height: number } | null;
  /** The layer forwarded now, for hysteresis. */
  current: LayerKey | undefined;
  /** Highest layer the subscriber's bandwidth allows; undefined = no limit known. */
  cap?: SimulcastLayer;
}

/** The layer to forward, "paused" for a hidden tile, or undefined while nothing flows. */
export function chooseLayer({
  active,
  preferred,
  tile,
  current,
  cap,
}: LayerInputs): LayerKey | "paused" | undefined {
  if (tile && (tile.width === 0 || tile.height === 0)) return "paused";
  if (active.length === 0) return undefined;
  if (active[0] === null) return null;
  let wanted: SimulcastLayer = preferred ?? (tile ? layerForTile(tile, current ?? null) : "low");
  if (cap !== undefined && rank(cap) < rank(wanted)) wanted = cap;
  // The wanted layer, or the highest flowing one below it, or else the lowest flowing one.
  let best: LayerKey | undefined;
  for (const layer of active) if (layer !== null && rank(layer) <= rank(wanted)) best = layer;
  return best ?? active[0];
}

/**
 * The smallest layer that shows a tile sharply (a little upscaling allowed). Stays on the
 * current layer unless the tile clearly outgrew it or clearly fits a smaller one.
 */
export function layerForTile(
  tile: { width: number; height: number },
  current: LayerKey,
): SimulcastLayer {
  // A 16:9 tile's height, or the height a wide tile needs at 16:9.
  const height = Math.max(tile.height, (tile.width * 9) / 16);
  const fits = (layer: SimulcastLayer, factor: number) => NOMINAL_HEIGHT[layer] * factor >= height;
  const target = LAYER_ORDER.find((layer) => fits(layer, UPSCALE_ALLOWED)) ?? "high";
  if (current === null || rank(target) >= rank(current)) return target;
  // Going down: only as far as layers that fit with the margin.
  const down = LAYER_ORDER.find((layer) => fits(layer, 1 / DOWNSCALE_MARGIN));
  return down !== undefined && rank(down) < rank(current)
    ? rank(down) > rank(target)
      ? down
      : target
    : current;
}

export function rank(layer: SimulcastLayer): number {
  return LAYER_ORDER.indexOf(layer);
}
