/**
 * Which simulcast layer a subscriber gets. The one place the choice is made, so the
 * bandwidth-aware selection (later: REMB / transport-cc estimates) replaces this function
 * and nothing else. Stage 1: the subscriber's explicit preference when that layer flows,
 * otherwise the lowest flowing layer (cheap, and always decodable at any tile size).
 */
import type { SimulcastLayer } from "./protocol";
import type { LayerKey } from "./producer";

export interface LayerInputs {
  /** Layers that have carried packets, lowest first (`[null]` without simulcast). */
  active: LayerKey[];
  /** `setPreferredLayer`; null = let the SFU choose. */
  preferred: SimulcastLayer | null;
  /** `setTileSize`; reserved for size-based selection. */
  tile: { width: number; height: number } | null;
}

/** The layer to forward, or undefined while nothing flows. */
export function chooseLayer({ active, preferred }: LayerInputs): LayerKey | undefined {
  if (active.length === 0) return undefined;
  if (preferred !== null) {
    // The preferred layer, or the highest active one below it.
    const order: LayerKey[] = ["low", "medium", "high"];
    const cap = order.indexOf(preferred);
    const candidates = active.filter((layer) => layer !== null && order.indexOf(layer) <= cap);
    if (candidates.length > 0) return candidates[candidates.length - 1];
  }
  return active[0];
}
