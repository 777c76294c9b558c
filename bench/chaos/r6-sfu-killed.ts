import { randomBytes } from "node:crypto";
import { SfuProcess } from "@/lib/call/sfu-process";
import { Bot } from "@/sfu/bot/bot";
import { LOOPBACK } from "@/sfu/test/harness";
import { mintCallToken } from "@/sfu/token";
import { progress, type RowResult, rowRecorder, sleep } from "./row";

/** Clients must be back in the call, media flowing both ways, within this of the kill. */
export const R6_LIMIT_MS = 5000;

/**
 * R6: the SFU process killed (SIGKILL) mid-call. The web node's SfuProcess
 * (lib/call/sfu-process.ts) restarts it; each of two callers — bots publishing microphone
 * and camera — does what the browser's Call does when its session is lost
 * (lib/call/client/call.ts): waits for signaling to come back, joins with a new ticket and
 * publishes again. Measured from the kill to both receiving each other's media again.
 */
export async function runR6(): Promise<RowResult> {
  const r = rowRecorder("R6", "the SFU process killed mid-call", null);
  const secret = randomBytes(32).toString("base64url");
  const log = {
    debug: () => {},
    info: () => {},
    warn: (m: string, f?: Record<string, unknown>) =>
      progress(`R6 sfu-process: ${m} ${JSON.stringify(f ?? {})}`),
    error: (m: string, f?: Record<string, unknown>) =>
      progress(`R6 sfu-process: ${m} ${JSON.stringify(f ?? {})}`),
  };
  const sfu = new SfuProcess({
    callTokenSecret: secret,
    log,
    // Its logs would go to our stdout, which is the report.
    env: { LOG_LEVEL: "error", SFU_MEDIA_IP: "127.0.0.1", SFU_ICE_TCP: "false" },
  });
  const roomId = `chaos-${randomBytes(4).toString("hex")}`;
  const join = async (name: string) => {
    await sfu.whenReady();
    const token = await mintCallToken(secret, {
      roomId,
      userId: name,
      displayName: name,
      mayPublish: true,
    });
    const bot = await Bot.join({
      url: `http://127.0.0.1:${sfu.port}`,
      token,
      roomId,
      network: LOOPBACK,
    });
    await bot.publish({ mic: true, camera: true });
    return bot;
  };
  /** The caller's loop: join; when the session is lost, join again (as the Call does). */
  const caller = (name: string) => {
    const state: { bot: Bot | null; lost: number; closed: boolean } = {
      bot: null,
      lost: 0,
      closed: false,
    };
    const connect = async (): Promise<void> => {
      while (!state.closed) {
        try {
          const bot = await join(name);
          state.bot = bot;
          bot.signaling.socket.once("disconnect", () => {
            if (state.closed || state.bot !== bot) return;
            state.lost++;
            state.bot = null;
            void bot.close().then(connect);
          });
          return;
        } catch {
          await sleep(100);
        }
      }
    };
    return { state, connect };
  };
  /** Both have received more packets than `since` from the other. */
  const flowing = (a: ReturnType<typeof caller>, b: ReturnType<typeof caller>, min: number) =>
    !!a.state.bot &&
    !!b.state.bot &&
    a.state.bot.totalPackets() > min &&
    b.state.bot.totalPackets() > min;

  const ada = caller("ada");
  const bob = caller("bob");
  try {
    sfu.start();
    await Promise.all([ada.connect(), bob.connect()]);
    const deadline = Date.now() + 20_000;
    while (!flowing(ada, bob, 50) && Date.now() < deadline) await sleep(50);
    r.check(flowing(ada, bob, 50), "media never flowed before the kill");
    r.watch();

    const pid = sfu.pid!;
    progress(`R6: kill -9 of the SFU (pid ${pid}) mid-call`);
    const killedAt = performance.now();
    process.kill(pid, "SIGKILL");
    // Wait for both to notice and rejoin, then for media both ways on the new sessions.
    const until = Date.now() + 30_000;
    while (
      !(ada.state.lost > 0 && bob.state.lost > 0 && flowing(ada, bob, 20)) &&
      Date.now() < until
    ) {
      await sleep(20);
    }
    const backMs = Math.round(performance.now() - killedAt);
    const back = ada.state.lost > 0 && bob.state.lost > 0 && flowing(ada, bob, 20);
    Object.assign(r.figures, {
      backInCallMs: back ? backMs : -1,
      newSfuPid: sfu.pid ?? 0,
      sessionsLost: ada.state.lost + bob.state.lost,
    });
    r.check(back, "the callers were not back in the call within 30 s");
    r.check(
      back && backMs < R6_LIMIT_MS,
      `back in the call after ${backMs} ms, not within ${R6_LIMIT_MS} ms`,
    );
    r.check(sfu.pid !== pid, "the SFU was not restarted");
  } finally {
    for (const c of [ada, bob]) {
      c.state.closed = true;
      await c.state.bot?.close();
    }
    await sfu.close();
  }
  return r.done();
}
