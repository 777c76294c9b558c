/**
 * The SFU process's garbage-collector setting (docs/sfu.md, "The fast forwarding path").
 *
 * A media worker holds a steady ~26 MB of long-lived objects (its peers' werift
 * connections) and produces short-lived garbage at a steady rate (the SRTP keystream
 * node:crypto allocates per batch of packets, about 1.3 KB per forwarded packet). With V8's
 * default growing factor (~1.9 here), the old generation's limit ends about 23 MB above what
 * survives a full collection, less than the young generation's capacity, and V8 then treats
 * every new old-space page as "limit reached": a worker ran a full mark-compact about once
 * a second, and its concurrent marking on the platform threads was a quarter of the SFU's
 * CPU at 50 subscribers. Letting the old generation grow to three times what survives
 * (`--heap-growing-percent=200`) leaves room above the young generation, and full
 * collections happen when the heap really grows: about 30 % less CPU per forwarded packet at
 * 50 subscribers, for a few tens of MB more resident memory per worker.
 *
 * The flag is V8's and process-wide: it is read at every collection, so setting it here,
 * first thing in the SFU process, covers the main thread and every media worker.
 */
import { setFlagsFromString } from "node:v8";

/** The old generation may grow to (1 + this / 100) × what survived the last full collection. */
export const HEAP_GROWING_PERCENT = 200;

export function tuneHeap(): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
