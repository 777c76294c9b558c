import { createSocket } from "node:dgram";
import { randomBytes, randomInt } from "node:crypto";
import { readFile } from "node:fs/promises";
import { startSfu } from "@/sfu/test/harness";
import { progress, type RowResult, rowRecorder, sleep } from "./row";

export interface R8Options {
  durationMs: number;
  /** Datagrams per second aimed at the SFU's media ports. */
  packetsPerSecond: number;
  /** Only these kinds of datagram (all by default): to find which one hurts. */
  kinds?: PacketKind[];
}

export type PacketKind = "random" | "rtp" | "rtcp" | "stun" | "dtls";
const ALL_KINDS: PacketKind[] = ["random", "rtp", "rtcp", "stun", "dtls"];

export const R8_CI: R8Options = { durationMs: 30_000, packetsPerSecond: 2000 };
export const R8_LONG: R8Options = { durationMs: 5 * 60_000, packetsPerSecond: 2000 };

/** During the fuzz, every second must carry at least this share of the media before it. */
export const R8_MIN_MEDIA_SHARE = 0.5;
/**
 * After the first third of the fuzz (V8 and the allocator settle into their working set in
 * it, as they do in any busy call), the SFU's resident memory may grow this much and no
 * more: a leak of even 1 KB per datagram shows as ~1.5 MB/s here.
 */
export const R8_MAX_RSS_GROWTH_MB = 15;

/** Media ports the SFU advertised in an SDP (host candidates on loopback). */
export function candidatePorts(sdp: string, transport: "udp" | "tcp"): number[] {
  const ports = new Set<number>();
  for (const match of sdp.matchAll(
    /a=candidate:\S+ \d+ (udp|tcp) \d+ 127\.0\.0\.1 (\d+) typ host/gi,
  )) {
    if (match[1]!.toLowerCase() === transport) ports.add(Number(match[2]));
  }
  return [...ports];
}

/**
 * R8: random and mutated RTP, RTCP, STUN and DTLS datagrams at the SFU's media ports
 * during a call (a bot publishing microphone and camera, another receiving). The call's
 * media must go on — every second of the fuzz carries at least half the packets a second
 * carried before it — with no peer error, and the SFU's memory must stay flat.
 */
export async function runR8(options: R8Options = R8_CI): Promise<RowResult> {
  const r = rowRecorder(
    "R8",
    `random and mutated RTP/RTCP/STUN/DTLS at the SFU's ports for ${options.durationMs / 1000} s during a call`,
    null,
  );
  const sfu = await startSfu();
  const udp = createSocket("udp4");
  try {
    const pub = await sfu.bot("room-fuzz", "Pub");
    const published = await pub.publish({ mic: true, camera: true });
    const sub = await sfu.bot("room-fuzz", "Sub");
    await sub.waitFor(() => sub.totalPackets() > 100, 15_000, "media before the fuzz");
    const ports = [
      ...new Set([published.sdp, ...sub.remoteSdps].flatMap((sdp) => candidatePorts(sdp, "udp"))),
    ];
    const ssrcs = [...published.sdp.matchAll(/a=ssrc:(\d+)/g)].map((m) => Number(m[1]));
    r.check(ports.length > 0, "the SFU advertised no UDP media port");
    r.watch();

    const perSecond = async (ms: number) => {
      const before = sub.totalPackets();
      await sleep(ms);
      return ((sub.totalPackets() - before) * 1000) / ms;
    };
    const baseline = await perSecond(2000);
    const rssStart = await rssMb(sfu.child.pid!);
    let rssWarm = rssStart;
    const memoryStart = (await sfu.stats()).memory;

    const kinds = options.kinds ?? ALL_KINDS;
    let sent = 0;
    let fuzzing = true;
    const fuzz = (async () => {
      const batch = Math.max(1, Math.round(options.packetsPerSecond / 100));
      while (fuzzing) {
        for (let i = 0; i < batch; i++) {
          udp.send(fuzzPacket(kinds, ssrcs), ports[sent % ports.length]!, "127.0.0.1");
          sent++;
        }
        await sleep(10);
      }
    })();
    const seconds: number[] = [];
    const started = Date.now();
    while (Date.now() - started < options.durationMs) {
      seconds.push(await perSecond(1000));
      if (seconds.length === Math.round(options.durationMs / 3000))
        rssWarm = await rssMb(sfu.child.pid!);
      if (seconds.length % 10 === 0) {
        const heap = mb((await sfu.stats()).memory.heapUsed);
        progress(
          `R8: ${seconds.length} s, ${sent} datagrams, SFU RSS ${await rssMb(sfu.child.pid!)} MB, heap ${heap} MB`,
        );
      }
    }
    fuzzing = false;
    await fuzz;
    const rssEnd = await rssMb(sfu.child.pid!);
    const memoryEnd = (await sfu.stats()).memory;
    const worst = Math.min(...seconds);

    Object.assign(r.figures, {
      fuzzSeconds: seconds.length,
      datagramsSent: sent,
      baselinePacketsPerS: Math.round(baseline),
      worstSecondPacketsPerS: Math.round(worst),
      secondsUnderHalf: seconds.filter((x) => x < baseline * R8_MIN_MEDIA_SHARE).length,
      packetsPerSecond: seconds.map(Math.round).join(" "),
      rssStartMb: rssStart,
      rssEndMb: rssEnd,
      rssAfterFirstThirdMb: rssWarm,
      rssGrowthMb: Math.round((rssEnd - rssWarm) * 10) / 10,
      heapStartMb: mb(memoryStart.heapUsed),
      heapEndMb: mb(memoryEnd.heapUsed),
      externalStartMb: mb(memoryStart.external),
      externalEndMb: mb(memoryEnd.external),
      sfuAlive: sfu.child.exitCode === null,
    });
    r.check(sfu.child.exitCode === null && sfu.child.signalCode === null, "the SFU died");
    r.check(
      worst >= baseline * R8_MIN_MEDIA_SHARE,
      `a second of the fuzz carried ${Math.round(worst)} packets/s, under ${R8_MIN_MEDIA_SHARE * 100}% of ${Math.round(baseline)}`,
    );
    r.check(
      rssEnd - rssWarm <= R8_MAX_RSS_GROWTH_MB,
      `the SFU's memory grew ${Math.round(rssEnd - rssWarm)} MB after the first third of the fuzz (limit ${R8_MAX_RSS_GROWTH_MB} MB)`,
    );
    r.check(
      sub.errors.length === 0 && pub.errors.length === 0,
      `peer errors: ${JSON.stringify([...sub.errors, ...pub.errors])}`,
    );
    await sub.leave();
    await pub.leave();
  } finally {
    udp.close();
    await sfu.stop();
  }
  return r.done();
}

const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kb / 102.4) / 10;
}

/** One datagram: random, or shaped as one of the four protocols, sometimes then mutated. */
function fuzzPacket(kinds: PacketKind[], ssrcs: number[]): Buffer {
  const kind = kinds[randomInt(kinds.length)]!;
  const packet =
    kind === "random"
      ? randomBytes(1 + randomInt(1400))
      : kind === "rtp"
        ? rtp(ssrcs)
        : kind === "rtcp"
          ? rtcp(ssrcs)
          : kind === "stun"
            ? stun()
            : dtls();
  return randomInt(3) === 0 ? mutate(packet) : packet;
}

function pick(ssrcs: number[]): number {
  return ssrcs.length > 0 && randomInt(2) === 0
    ? ssrcs[randomInt(ssrcs.length)]!
    : randomInt(2 ** 32);
}

/** An RTP header (version 2, maybe with an extension) with a real or random SSRC. */
function rtp(ssrcs: number[]): Buffer {
  const header = Buffer.alloc(12);
  header[0] = 0x80 | (randomInt(2) << 4) | randomInt(16);
  header[1] = randomInt(256);
  header.writeUInt16BE(randomInt(65536), 2);
  header.writeUInt32BE(randomInt(2 ** 32), 4);
  header.writeUInt32BE(pick(ssrcs), 8);
  return Buffer.concat([header, randomBytes(randomInt(1200))]);
}

/** An RTCP packet (SR, RR, SDES, BYE, APP, feedback) with a plausible or lying length. */
function rtcp(ssrcs: number[]): Buffer {
  const body = randomBytes(4 * randomInt(64));
  const header = Buffer.alloc(8);
  header[0] = 0x80 | randomInt(32);
  header[1] = 200 + randomInt(7);
  header.writeUInt16BE(randomInt(4) === 0 ? randomInt(65536) : body.length / 4 + 1, 2);
  header.writeUInt32BE(pick(ssrcs), 4);
  return Buffer.concat([header, body]);
}

/** A STUN message (binding request, response or indication) with random attributes. */
function stun(): Buffer {
  const attributes: Buffer[] = [];
  for (let i = randomInt(6); i > 0; i--) {
    const value = randomBytes(randomInt(64));
    const attribute = Buffer.alloc(4 + value.length + ((4 - (value.length % 4)) % 4));
    attribute.writeUInt16BE(
      [0x0006, 0x0008, 0x8028, 0x0024, 0x8029, 0x802a, 0x0025][randomInt(7)]!,
      0,
    );
    attribute.writeUInt16BE(randomInt(4) === 0 ? randomInt(65536) : value.length, 2);
    value.copy(attribute, 4);
    attributes.push(attribute);
  }
  const body = Buffer.concat(attributes);
  const header = Buffer.alloc(20);
  header.writeUInt16BE([0x0001, 0x0101, 0x0111, 0x0011][randomInt(4)]!, 0);
  header.writeUInt16BE(body.length, 2);
  header.writeUInt32BE(0x2112a442, 4);
  randomBytes(12).copy(header, 8);
  return Buffer.concat([header, body]);
}

/** A DTLS 1.2 record: handshake, alert, change cipher spec or application data, any epoch. */
function dtls(): Buffer {
  const body = randomBytes(randomInt(300));
  const header = Buffer.alloc(13);
  header[0] = 20 + randomInt(5);
  header.writeUInt16BE(randomInt(4) === 0 ? randomInt(65536) : 0xfefd, 1);
  header.writeUInt16BE(randomInt(3), 3);
  randomBytes(6).copy(header, 5);
  header.writeUInt16BE(randomInt(4) === 0 ? randomInt(65536) : body.length, 11);
  return Buffer.concat([header, body]);
}

/** Flips bits, truncates or extends: what a corrupting path does to a packet. */
function mutate(packet: Buffer): Buffer {
  const out = Buffer.from(packet);
  for (let i = randomInt(8); i > 0 && out.length > 0; i--)
    out[randomInt(out.length)]! ^= 1 << randomInt(8);
  const cut = randomInt(3);
  if (cut === 0) return out.subarray(0, randomInt(out.length + 1));
  if (cut === 1) return Buffer.concat([out, randomBytes(randomInt(64))]);
  return out;
}
