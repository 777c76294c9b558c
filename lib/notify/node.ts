import "server-only";
import type { Server } from "socket.io";
import type { Db } from "@/lib/db/client";
import type { Env } from "@/lib/env";
import { onRoomEvent } from "@/lib/realtime/publish";
import type { NodeContext } from "@/lib/server/context";
import type { Feature } from "@/lib/server/feature";
import { logger } from "@/lib/server/log";
import type { RoomEvent } from "@/lib/chat/schemas";
import { createNotifier, type FanoutResult, type Notifier } from "./fanout";
import { PushSender, type PushSenderOptions } from "./push";
import { deleteSubscription } from "./service";

const log = logger("notify");

export interface NotifyDeps {
  io: Server;
  db: () => Db;
  env: Env;
  vapid: { publicKey: string; privateKey: string };
  /** Test seams: the sender's retry timing. */
  sender?: Partial<Pick<PushSenderOptions, "attempts" | "baseDelayMs" | "maxDelayMs">>;
  /** Told after each event's fan-out finished (tests and the benchmark wait on it). */
  onFanout?(event: RoomEvent, result: FanoutResult | null): void;
}

/** Who push services may contact about this server (RFC 8292 `sub`). */
export function vapidSubject(env: Env): string {
  if (env.VAPID_SUBJECT) return env.VAPID_SUBJECT;
  if (env.PUBLIC_URL?.startsWith("https://")) return new URL(env.PUBLIC_URL).origin;
  return "mailto:parley@example.invalid";
}

/**
 * Notifications on the web node (docs/notifications.md): the push sender and the fan-out,
 * hooked to the room events chat publishes. Also what tests and the benchmark start.
 */
export function startNotify(deps: NotifyDeps): {
  notifier: Notifier;
  sender: PushSender;
  stop(): void;
} {
  const sender = new PushSender({
    vapid: { subject: vapidSubject(deps.env), ...deps.vapid },
    onGone: async (id) => {
      await deleteSubscription(deps.db(), id);
      log.info("removed a subscription its push service no longer knows");
    },
    ...deps.sender,
  });
  const notifier = createNotifier({
    io: deps.io,
    db: deps.db,
    sender,
    privacy: deps.env.PUSH_PRIVACY,
    mentionRoomMaxMembers: deps.env.MENTION_ROOM_MAX_MEMBERS,
  });
  const stop = onRoomEvent(deps.io, async (event) => {
    const result = await notifier.onRoomEvent(event);
    deps.onFanout?.(event, result);
  });
  return { notifier, sender, stop };
}

export function createNotifyFeature(ctx: NodeContext): Feature {
  const started = startNotify({
    io: ctx.io,
    db: () => ctx.database.db,
    env: ctx.env,
    vapid: { publicKey: ctx.secrets.vapidPublicKey, privateKey: ctx.secrets.vapidPrivateKey },
  });
  return {
    name: "notify",
    async close() {
      started.stop();
    },
  };
}
