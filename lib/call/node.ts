import "server-only";
import type { Feature } from "@/lib/server/feature";
import type { NodeContext } from "@/lib/server/context";

/**
 * Calls on the web node: starts (or finds) SFU nodes, places rooms on them and proxies
 * their signaling on the app's origin. Placeholder until the SFU lands (issue 3).
 */
export async function createCallsFeature(_ctx: NodeContext): Promise<Feature> {
  return { name: "calls" };
}
