import { subscribeSchema, unsubscribeSchema } from "@/lib/notify/schemas";
import { doSubscribe, doUnsubscribe, listSubscriptions } from "@/lib/notify/service";
import { route } from "@/lib/server/route";
import { db, runtime } from "@/lib/server/runtime";

/** This server's VAPID public key (the browser's applicationServerKey) and your devices. */
export const GET = route({}, async ({ user }) => ({
  publicKey: runtime().secrets.vapidPublicKey,
  subscriptions: await listSubscriptions(db(), user.id),
}));

/** Subscribes this device: the browser's PushSubscription JSON. */
export const POST = route({ input: subscribeSchema }, async ({ req, user, input }) =>
  doSubscribe(db(), user, input, {
    insecureOrigins: runtime().config.PUSH_INSECURE_ORIGINS,
    userAgent: req.headers.get("user-agent"),
  }),
);

/** Removes one of your devices: `?id=<subscription id>`. */
export const DELETE = route({ input: unsubscribeSchema }, async ({ user, input }) => {
  await doUnsubscribe(db(), user.id, input.id);
  return null;
});
