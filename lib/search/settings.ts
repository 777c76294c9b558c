import { z } from "zod";
import { integer } from "@/lib/config/settings";

/** Search's settings (one part of the configuration lib/env.ts composes). */
export const searchEnv = z.object({
  /** Searches (each page of results counts) a user may make per SEARCH_RATE_WINDOW_S. */
  SEARCH_RATE_POINTS: integer(1).default(30),
  SEARCH_RATE_WINDOW_S: integer(1).default(10),
});
