import { z } from "zod";
import { authEnv } from "@/lib/auth/settings";
import { callEnv, checkCallEnv } from "@/lib/call/config";
import { chatEnv } from "@/lib/chat/settings";
import { parseSettings, type SettingsSource } from "@/lib/config/settings";
import { checkFilesEnv, filesEnv } from "@/lib/files/settings";
import { checkNotifyEnv, notifyEnv } from "@/lib/notify/settings";
import { realtimeEnv } from "@/lib/realtime/settings";
import { searchEnv } from "@/lib/search/settings";
import { serverEnv } from "@/lib/server/settings";
import { checkTlsEnv, tlsEnv } from "@/lib/server/tls/config";

/**
 * The web node's configuration: one schema composed of each feature's part (its own
 * `settings.ts`, calls' `config.ts`), parsed once by server.ts at start with the
 * conventions of lib/config/settings.ts. Every reader gets the parsed object: features
 * through their NodeContext, route handlers and pages through `runtime().config`.
 *
 * A new feature with settings adds its part here (a `z.object` of its variables, and its
 * checks across variables in the superRefine). Secrets that are not set are generated
 * into DATA_DIR by lib/server/secrets.ts; the result travels as `secrets`, not in here.
 */
export const PARTS = {
  server: serverEnv,
  tls: tlsEnv,
  auth: authEnv,
  chat: chatEnv,
  realtime: realtimeEnv,
  call: callEnv,
  files: filesEnv,
  notify: notifyEnv,
  search: searchEnv,
};

const schema = z
  .object({
    ...serverEnv.shape,
    ...tlsEnv.shape,
    ...authEnv.shape,
    ...chatEnv.shape,
    ...realtimeEnv.shape,
    ...callEnv.shape,
    ...filesEnv.shape,
    ...notifyEnv.shape,
    ...searchEnv.shape,
  })
  .superRefine((config, ctx) => {
    checkTlsEnv(config, ctx);
    checkCallEnv(config, ctx);
    checkNotifyEnv(config, ctx);
    checkFilesEnv(config, ctx);
  });

export type Env = z.output<typeof schema>;

/** Parses a configuration; throws one error naming every bad variable. */
export function parseEnv(source: SettingsSource): Env {
  return parseSettings(schema, source, "configuration");
}

/** The process's configuration: for server.ts, once, at start. */
export function loadEnv(): Env {
  return parseEnv(process.env);
}
