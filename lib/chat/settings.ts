import { z } from "zod";
import { integer } from "@/lib/config/settings";

/** Chat's settings (one part of the configuration lib/env.ts composes). */
export const chatEnv = z.object({
  CHAT_MAX_MESSAGE_LENGTH: integer(1, 100_000).default(4000),
  /** Messages (sends, edits, reactions) a user may make per CHAT_RATE_WINDOW_S. */
  CHAT_RATE_POINTS: integer(1).default(30),
  CHAT_RATE_WINDOW_S: integer(1).default(10),
});
