/**
 * `npm run bench:srtp`: CPU per SRTP packet of the forwarding path's AES-128-GCM
 * (sfu/srtp/aes-gcm.ts), sealing and opening, with one key and with as many keys as a room's
 * subscribers (each subscriber has its own, so at 50 their GHASH tables compete for the
 * cache), beside node:crypto's AES-GCM with a cipher object per packet, which is what the
 * fast path replaced. Prints JSON; docs/sfu.md, "The fast forwarding path".
 *
 * Options (environment): BENCH_SRTP_KEYS (comma-separated key counts, default "1,50"),
 * BENCH_SRTP_PAYLOAD (bytes, default 1100, the bench:sfu load's), BENCH_SRTP_REPS (5).
 */
import { createCipheriv, randomBytes } from "node:crypto";
import { AesGcmSrtp, GCM_TAG_LENGTH, scratch } from "../sfu/srtp/aes-gcm";
import { median, round } from "./stats";

const HEADER = 12;
const keyCounts = (process.env.BENCH_SRTP_KEYS ?? "1,50").split(",").map(Number);
const payloadLength = Number(process.env.BENCH_SRTP_PAYLOAD ?? 1100);
const reps = Number(process.env.BENCH_SRTP_REPS ?? 5);
/** Packets per measured repetition, whatever the number of keys. */
const PACKETS = 200_000;

function cpuMicros(): number {
  const { user, system } = process.threadCpuUsage();
  return user + system;
}

/** Median over `reps` of µs per call of `packet(i)`, after a warm-up. */
function measure(packet: (i: number) => void): { median: number; runs: number[] } {
  for (let i = 0; i < PACKETS / 10; i++) packet(i);
  const runs: number[] = [];
  for (let r = 0; r < reps; r++) {
    const start = cpuMicros();
    for (let i = 0; i < PACKETS; i++) packet(i);
    runs.push(round((cpuMicros() - start) / PACKETS, 3));
  }
  return { median: round(median(runs), 3), runs };
}

const payload = randomBytes(payloadLength);
const header = Buffer.from("800100000000000000001234", "hex");
const results: Record<string, unknown> = {};

for (const keys of keyCounts) {
  const contexts = Array.from(
    { length: keys },
    () => new AesGcmSrtp(randomBytes(16), randomBytes(12)),
  );
  // Sealing: one packet of the stream per key in turn, as a forwarded packet goes out to
  // every subscriber; the sequence number advances once per round.
  const seal = measure((i) => {
    const bytes = scratch();
    bytes.set(header, 0);
    bytes.set(payload, HEADER);
    contexts[i % keys]!.sealScratch(
      HEADER,
      payloadLength,
      0x1234,
      0,
      Math.floor(i / keys) & 0xffff,
    );
  });
  // Opening: packets sealed ahead (a round of the stream per key), checked and decrypted.
  const sealed = contexts.map((context, k) =>
    Array.from({ length: 64 }, (_, seq) => {
      const packet = Buffer.alloc(HEADER + payloadLength + GCM_TAG_LENGTH);
      header.copy(packet);
      packet.writeUInt16BE(seq, 2);
      payload.copy(packet, HEADER);
      context.protect(packet, HEADER, payloadLength, 0x1234 + k, 0, seq);
      return packet;
    }),
  );
  const work = Buffer.alloc(HEADER + payloadLength + GCM_TAG_LENGTH);
  const open = measure((i) => {
    const k = i % keys;
    const seq = Math.floor(i / keys) % 64;
    sealed[k]![seq]!.copy(work);
    const length = contexts[k]!.unprotect(work, work.length, HEADER, 0x1234 + k, 0, seq);
    if (length < 0) throw new Error("a packet sealed here did not open");
  });
  results[`keys=${keys}`] = { sealMicros: seal, openMicros: open };
}

// node:crypto's AES-128-GCM, a cipher object per packet (what SRTP over node:crypto costs).
const key = randomBytes(16);
const iv = randomBytes(12);
const out = Buffer.alloc(payloadLength);
const perPacketCipher = measure(() => {
  const cipher = createCipheriv("aes-128-gcm", key, iv);
  cipher.setAAD(header);
  cipher.update(payload).copy(out);
  cipher.final();
  cipher.getAuthTag();
});

console.info(
  JSON.stringify(
    {
      payloadBytes: payloadLength,
      headerBytes: HEADER,
      packetsPerRepetition: PACKETS,
      repetitions: reps,
      cpu: "this thread's CPU time (process.threadCpuUsage) per packet, µs; median of repetitions",
      fastPath: results,
      nodeCryptoCipherPerPacketMicros: perPacketCipher,
    },
    null,
    2,
  ),
);
