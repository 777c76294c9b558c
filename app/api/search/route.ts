import { searchLimit } from "@/lib/search/limits";
import { searchInputSchema } from "@/lib/search/schemas";
import { searchMessages } from "@/lib/search/service";
import { db } from "@/lib/server/runtime";
import { route } from "@/lib/server/route";

/**
 * Searches the messages of the rooms you are in:
 * `?q=<search>&sort=newest|best&cursor=<nextCursor>&tz=<IANA zone>` (docs/search.md).
 */
export const GET = route<object, typeof searchInputSchema>(
  { input: searchInputSchema },
  async ({ user, input }) => {
    await searchLimit().consume(user.id);
    return searchMessages(db(), user.id, input);
  },
);
