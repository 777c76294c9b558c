import "server-only";
import type { Feature } from "@/lib/server/feature";
import type { NodeContext } from "@/lib/server/context";

/**
 * File sharing on the web node: resumable, streamed uploads that must not pass through
 * Next's body handling. Placeholder until file sharing lands (issue 4).
 */
export async function createFilesFeature(_ctx: NodeContext): Promise<Feature> {
  return { name: "files" };
}
