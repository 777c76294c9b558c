import { z } from "zod";
import { integer } from "@/lib/config/settings";

/** The Socket.IO server's settings (one part of the configuration lib/env.ts composes). */
export const realtimeEnv = z.object({
  /** Socket.IO commands per socket: a burst of this many, refilled at SOCKET_COMMAND_RATE_PER_S. */
  SOCKET_COMMAND_BURST: integer(1).default(100),
  SOCKET_COMMAND_RATE_PER_S: z.coerce.number().min(0.1).default(20),
});
