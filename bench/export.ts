/**
 * Room export memory and speed (issue 13): `npm run bench:export` prints JSON.
 *
 * A room with BENCH_EXPORT_MESSAGES messages (default 100,000) and BENCH_EXPORT_FILE_BYTES
 * of files (default 1 GiB, in 64 MiB files) in embedded PGlite, exported as the
 * `Export room` download does (roomExport → tar) into a byte-counting sink. Reports the
 * time, the archive's size and the RSS before and at its peak (sampled every 50 ms):
 * the target is RSS growth well under the data's size (flat: < 150 MB).
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { doCreateAccount } from "@/lib/auth/service";
import { openDatabase } from "@/lib/db/client";
import { migrateDatabase } from "@/lib/db/migrate";
import { roomExport } from "@/lib/export/archive";
import { tar } from "@/lib/export/tar";
import { MasterKeys } from "@/lib/files/crypto/encryption";
import { DiskStorage } from "@/lib/files/disk-storage";
import { doCreateRoom } from "@/lib/rooms/service";
import { seedFiles, seedMessages } from "./seed";

const MESSAGES = Number(process.env.BENCH_EXPORT_MESSAGES ?? 100_000);
const FILE_BYTES = Number(process.env.BENCH_EXPORT_FILE_BYTES ?? 1024 ** 3);
const MB = 1024 * 1024;

const dir = await mkdtemp(path.join(process.env.BENCH_DIR ?? tmpdir(), "parley-bench-export-"));
try {
  const database = await openDatabase({ kind: "pglite", dataDir: path.join(dir, "pglite") });
  await migrateDatabase(database);
  const db = database.db;
  const user = await doCreateAccount(db, {
    email: `bench-${randomBytes(4).toString("hex")}@example.test`,
    password: "bench password 1",
    displayName: "Bench",
  });
  const { room } = await doCreateRoom(db, user, { kind: "open" });
  const setupStart = performance.now();
  await seedMessages(db, { roomId: room.id, authorId: user.id, count: MESSAGES });
  const storage = await DiskStorage.create(path.join(dir, "objects"));
  const keys = new MasterKeys(randomBytes(32));
  await seedFiles(db, {
    storage,
    keys,
    roomId: room.id,
    uploaderId: user.id,
    totalBytes: FILE_BYTES,
  });
  const setupS = (performance.now() - setupStart) / 1000;

  global.gc?.();
  const rssBefore = process.memoryUsage.rss();
  let peak = rssBefore;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  let bytes = 0;
  const start = performance.now();
  await pipeline(
    Readable.from(tar(roomExport({ db, storage, keys, tmpDir: dir }, room.id))),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        bytes += chunk.length;
        done();
      },
    }),
  );
  const exportS = (performance.now() - start) / 1000;
  clearInterval(sampler);
  await database.close();
  process.stdout.write(
    `${JSON.stringify(
      {
        messages: MESSAGES,
        fileBytes: FILE_BYTES,
        setupS: Number(setupS.toFixed(1)),
        exportS: Number(exportS.toFixed(1)),
        archiveMB: Number((bytes / MB).toFixed(1)),
        throughputMBps: Number((bytes / MB / exportS).toFixed(1)),
        rssBeforeMB: Math.round(rssBefore / MB),
        rssPeakMB: Math.round(peak / MB),
        rssGrowthMB: Math.round((peak - rssBefore) / MB),
        target: "RSS growth < 150 MB",
        met: peak - rssBefore < 150 * MB,
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
