import "server-only";
import type { Server } from "socket.io";
import type { Db } from "@/lib/db/client";
import type { Env } from "@/lib/env";
import { onCallStarted, onRoomEvent } from "@/lib/realtime/publish";
import type { NodeContext } from "@/lib/server/context";
import type { Feature } from "@/lib/server/feature";
import { logger } from "@/lib/server/log";
import type { RoomEvent } from "@/lib/chat/schemas";
import nodemailer from "nodemailer";
import { sendDigests } from "./digest";
import { createNotifier, type FanoutResult, type Notifier } from "./fanout";
import { PushSender, type PushSenderOptions } from "./push";
import { claimCallRing, deleteSubscription, SubscriptionUseRecorder } from "./service";

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
  /**
   * Told after a call start was handled: what its ring did, or null when it rang no one
   * because it had rung already (on this or another web node).
   */
  onRing?(roomId: string, result: FanoutResult | null): void;
}

const RING_AGAIN_AFTER_MS = 60_000;

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
  /** Writes the devices' pending `last_success_at` now (stop does too). */
  flushUsed(): Promise<void>;
  /** Unhooks the fan-out, stops the push workers and writes what is pending. */
  stop(): Promise<void>;
} {
  const sender = new PushSender({
    vapid: { subject: vapidSubject(deps.env), ...deps.vapid },
    trustedOrigins: deps.env.PUSH_INSECURE_ORIGINS,
    cpuShare: deps.env.PUSH_WORKER_CPU_PERCENT / 100,
    onGone: async (id) => {
      await deleteSubscription(deps.db(), id);
      log.info("removed a subscription its push service no longer knows");
    },
    ...deps.sender,
  });
  const used = new SubscriptionUseRecorder(deps.db, (err) =>
    log.warn("could not note when devices were last reached", { err: String(err) }),
  );
  const notifier = createNotifier({
    io: deps.io,
    db: deps.db,
    sender,
    used,
    privacy: deps.env.PUSH_PRIVACY,
    mentionRoomMaxMembers: deps.env.MENTION_ROOM_MAX_MEMBERS,
  });
  const stopEvents = onRoomEvent(deps.io, async (event) => {
    const result = await notifier.onRoomEvent(event);
    deps.onFanout?.(event, result);
  });
  // A call rings once per start: a caller's tab rejoining after a reconnect (alone again)
  // within a minute rings no one again, on whichever web node it lands.
  const stopCalls = onCallStarted(deps.io, async (call) => {
    const result = (await claimCallRing(deps.db(), call.roomId, RING_AGAIN_AFTER_MS))
      ? await notifier.ringCall(call.roomId, call.caller)
      : null;
    deps.onRing?.(call.roomId, result);
  });
  return {
    notifier,
    sender,
    flushUsed: () => used.flush(),
    stop: async () => {
      stopEvents();
      stopCalls();
      await sender.close();
      await used.flush();
    },
  };
}

export function createNotifyFeature(ctx: NodeContext): Feature {
  const started = startNotify({
    io: ctx.io,
    db: () => ctx.database.db,
    env: ctx.env,
    vapid: { publicKey: ctx.secrets.vapidPublicKey, privateKey: ctx.secrets.vapidPrivateKey },
  });
  const digest = startDigests(ctx);
  return {
    name: "notify",
    async close() {
      digest?.stop();
      await started.stop();
    },
  };
}

/** How often the email digest looks for what to mail. */
const DIGEST_EVERY_MS = 60_000;

/** With SMTP_URL set, mails digests every minute (lib/notify/digest.ts); else nothing. */
function startDigests(ctx: NodeContext): { stop(): void } | null {
  const { env } = ctx;
  if (!env.SMTP_URL) return null;
  const transport = nodemailer.createTransport(env.SMTP_URL);
  const baseUrl = env.PUBLIC_URL ?? `http://localhost:${env.PORT}`;
  if (!env.PUBLIC_URL) log.warn("SMTP_URL without PUBLIC_URL: digest links point at localhost");
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sendDigests(ctx.database.db, {
      transport,
      from: env.SMTP_FROM,
      baseUrl,
      delayMs: env.EMAIL_DIGEST_DELAY_MINUTES * 60_000,
    })
      .then((mailed) => {
        if (mailed.length) log.info("mailed digests", { people: mailed.length });
      })
      .catch((err: unknown) => log.warn("digest failed", { err: String(err) }))
      .finally(() => (running = false));
  }, DIGEST_EVERY_MS);
  timer.unref();
  return {
    stop: () => {
      clearInterval(timer);
      transport.close();
    },
  };
}
