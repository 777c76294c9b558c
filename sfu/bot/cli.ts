/**
 * Load from the command line: N bots join one room, some publish, all subscribe, and a
 * JSON summary is printed at the end. Tokens are minted here with CALL_TOKEN_SECRET, so
 * point it at an SFU node (or a web node's proxy path) that shares the secret.
 *
 *   CALL_TOKEN_SECRET=… npm run sfu:bot -- --url http://127.0.0.1:4000 --room demo \
 *     --bots 5 --publishers 1 --publish mic,camera --simulcast --seconds 20
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { SIGNALING_PATH } from "../protocol";
import { mintCallToken } from "../token";
import { Bot, type PublishOptions } from "./bot";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:4000" },
    path: { type: "string", default: SIGNALING_PATH },
    room: { type: "string", default: "load" },
    bots: { type: "string", default: "2" },
    publishers: { type: "string", default: "1" },
    publish: { type: "string", default: "mic,camera" },
    simulcast: { type: "boolean", default: false },
    seconds: { type: "string", default: "10" },
    "media-ip": { type: "string", default: "127.0.0.1" },
    fps: { type: "string", default: "30" },
    "packets-per-frame": { type: "string", default: "3" },
    "payload-size": { type: "string", default: "1100" },
  },
});

const options = z
  .object({
    url: z.string().url(),
    path: z.string().startsWith("/"),
    room: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    bots: z.coerce.number().int().min(1).max(500),
    publishers: z.coerce.number().int().min(0),
    publish: z.string().transform((s) => new Set(s.split(",").map((x) => x.trim()))),
    simulcast: z.boolean(),
    seconds: z.coerce.number().min(1).max(3600),
    "media-ip": z.string().min(1),
    fps: z.coerce.number().int().min(1).max(120),
    "packets-per-frame": z.coerce.number().int().min(1).max(20),
    "payload-size": z.coerce.number().int().min(40).max(1200),
    secret: z.string().min(32, "set CALL_TOKEN_SECRET (at least 32 characters)"),
  })
  .parse({ ...values, secret: process.env.CALL_TOKEN_SECRET ?? "" });

async function main() {
  const bots: Bot[] = [];
  const shape = {
    fps: options.fps,
    packetsPerFrame: options["packets-per-frame"],
    payloadSize: options["payload-size"],
  };
  for (let i = 0; i < options.bots; i++) {
    const name = `bot-${i}`;
    const token = await mintCallToken(options.secret, {
      roomId: options.room,
      userId: name,
      displayName: name,
      mayPublish: true,
    });
    const bot = await Bot.join({
      url: options.url,
      path: options.path,
      token,
      roomId: options.room,
      network: { mediaIp: options["media-ip"], iceTcp: false },
    });
    bots.push(bot);
    if (i < options.publishers) {
      const publish: PublishOptions = {
        mic: options.publish.has("mic"),
        camera: options.publish.has("camera") ? { simulcast: options.simulcast, shape } : false,
        screen: options.publish.has("screen") ? { shape } : false,
        micLevel: 40,
      };
      await bot.publish(publish);
    }
  }
  const startedAt = Date.now();
  const before = bots.map((bot) => bot.totalPackets());
  await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
  const elapsed = (Date.now() - startedAt) / 1000;
  const summary = bots.map((bot, i) => ({
    bot: bot.self?.displayName,
    tracks: bot.received.size,
    packets: bot.totalPackets() - before[i]!,
    packetsPerSecond: Math.round((bot.totalPackets() - before[i]!) / elapsed),
    gaps: [...bot.received.values()].reduce((n, t) => n + t.gaps, 0),
    errors: bot.errors.length,
  }));
  console.info(JSON.stringify({ room: options.room, seconds: elapsed, bots: summary }, null, 2));
  await Promise.all(bots.map((bot) => bot.leave()));
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
