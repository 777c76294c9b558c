/**
 * `npm run backup -- <file> [--no-secrets]`, `npm run restore -- <file>` and
 * `npm run rotate-files-key [-- --generate]` (README.md, "Backup and restore").
 *
 * Backup and rotation go through the running node's admin channel (./admin.ts) when one
 * serves this DATA_DIR, and run in this process when none does. Restore runs here only:
 * its target is empty, so nothing can be running on it. Progress and warnings go to
 * stderr; the result, as JSON, to stdout. Exit status 1 and nothing changed on refusal.
 */
import { createReadStream, createWriteStream, existsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { rename, rm, stat } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import path from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { z } from "zod";
import { openDatabase } from "@/lib/db/client";
import { loadEnv, type Env } from "@/lib/env";
import { tar, type TarEntry } from "@/lib/export/tar";
import { MasterKeys, parseMasterKey } from "@/lib/files/crypto/encryption";
import { Transfers } from "@/lib/files/crypto/transfers";
import { DiskStorage } from "@/lib/files/disk-storage";
import { filesKeySource } from "@/lib/files/node";
import { rotateFilesKey, type RotationReport } from "@/lib/files/rotation";
import { filesSettings } from "@/lib/files/settings";
import { withRemovalHolds } from "@/lib/files/storage";
import { EncryptedUploadStore } from "@/lib/files/upload-store";
import { configuredSecrets, loadSecrets } from "@/lib/server/secrets";
import { adminRequest, OBJECTS_HEADER, snapshotFromNode, SUMMARY_TRAILER } from "./admin";
import { backupArchive, backupEntries } from "./archive";
import { type BackupSummary, missingKeyWarning } from "./format";
import { restoreBackup, RestoreRefused } from "./restore";

const say = (line: string) => process.stderr.write(`${line}\n`);

function secretsOf(config: Env, dataDir: string) {
  return loadSecrets(dataDir, configuredSecrets(config));
}

/** Where the stored objects of DATA_DIR are (as lib/files/node.ts opens them). */
const objectsDir = (dataDir: string) => path.join(dataDir, "files", "objects");

/** Writes an archive's entries to `file` (mode 0600); what its generator reported, and its size. */
async function writeArchive(
  file: string,
  entries: (onDone: (summary: Omit<BackupSummary, "bytes">) => void) => AsyncIterable<TarEntry>,
): Promise<BackupSummary> {
  let done: Omit<BackupSummary, "bytes"> | null = null;
  await pipeline(
    Readable.from(tar(entries((summary) => (done = summary)))),
    createWriteStream(file, { mode: 0o600, highWaterMark: 4 * 1024 * 1024 }),
  );
  if (!done) throw new Error("The backup ended before its manifest");
  const { size } = await stat(file);
  return { ...(done as Omit<BackupSummary, "bytes">), bytes: size };
}

async function backup(config: Env, dataDir: string, file: string, includeSecrets: boolean) {
  const target = path.resolve(file);
  const partial = `${target}.partial`;
  let summary: BackupSummary;
  try {
    const response = await adminRequest(dataDir, "/backup", { includeSecrets, objects: "caller" });
    if (response?.headers[OBJECTS_HEADER] === "caller") {
      // The node sends the database half; the objects it names are read here, from disk.
      say(`Backing up through the running node (${path.join(dataDir, "admin.sock")})…`);
      const storage = await DiskStorage.create(objectsDir(dataDir));
      try {
        summary = await writeArchive(partial, (onDone) =>
          backupArchive(snapshotFromNode(response), storage, onDone),
        );
      } finally {
        response.destroy(); // the node's hold on removals ends with the connection
      }
    } else if (response) {
      say(`Backing up through the running node (${path.join(dataDir, "admin.sock")})…`);
      await expectOk(response);
      await pipeline(response, createWriteStream(partial, { mode: 0o600 }));
      const trailer = response.trailers[SUMMARY_TRAILER];
      if (!trailer) throw new Error("The node ended the backup early (see its log)");
      summary = JSON.parse(trailer) as BackupSummary;
    } else {
      if (!config.DATABASE_URL && !existsSync(path.join(dataDir, "pglite")))
        throw new Error(`No Parley data in ${dataDir} (and no node running there)`);
      say("No node is running on this DATA_DIR: backing up from this process…");
      const database = await openDatabase(
        config.DATABASE_URL
          ? { kind: "postgres", url: config.DATABASE_URL, max: 2 }
          : { kind: "pglite", dataDir: path.join(dataDir, "pglite") },
      );
      try {
        const secrets = secretsOf(config, dataDir);
        const storage = withRemovalHolds(await DiskStorage.create(objectsDir(dataDir)));
        summary = await writeArchive(partial, (onDone) =>
          backupEntries(
            {
              database,
              storage,
              keys: keysOf(secrets),
              secrets: includeSecrets ? secrets : null,
              tmpDir: path.join(dataDir, "tmp"),
            },
            onDone,
          ),
        );
      } finally {
        await database.close();
      }
    }
    await rename(partial, target);
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
  say(
    `Backup written to ${target}: ${summary.bytes} bytes, ${summary.rows.messages ?? 0} messages, ${summary.objects} stored files.`,
  );
  if (summary.missingObjects > 0)
    say(
      `WARNING: ${summary.missingObjects} file(s) were deleted (on another node) while the backup ran and are not in it.`,
    );
  if (summary.includesSecrets)
    say(
      "It INCLUDES the secrets (FILES_MASTER_KEY among them): anyone with this file can read everything in it. Store it like the DATA_DIR itself.",
    );
  else say(missingKeyWarning(summary.filesKeys));
  process.stdout.write(`${JSON.stringify({ file: target, ...summary })}\n`);
}

function keysOf(secrets: { filesMasterKey: string; filesMasterKeyPrevious?: string }) {
  return new MasterKeys(
    parseMasterKey(secrets.filesMasterKey),
    secrets.filesMasterKeyPrevious ? parseMasterKey(secrets.filesMasterKeyPrevious) : null,
  );
}

async function restore(config: Env, dataDir: string, file: string) {
  const source = path.resolve(file);
  if (!existsSync(source)) throw new RestoreRefused(`No such file ${source}`);
  say(
    `Restoring ${source} into ${dataDir}${config.DATABASE_URL ? " and the database at DATABASE_URL" : ""}…`,
  );
  const report = await restoreBackup(createReadStream(source), {
    dataDir,
    ...(config.DATABASE_URL ? { databaseUrl: config.DATABASE_URL } : {}),
    ...(config.FILES_MASTER_KEY ? { configuredFilesKey: config.FILES_MASTER_KEY } : {}),
  });
  for (const warning of report.warnings) say(warning);
  say(
    `Restored ${report.rows.messages ?? 0} messages in ${report.rows.rooms ?? 0} rooms and ${report.objects} stored files. Start Parley on it as usual.`,
  );
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

async function rotate(config: Env, dataDir: string, generate: boolean) {
  const keySource = filesKeySource(config);
  if (keySource === "environment" && generate)
    throw new Error(
      "FILES_MASTER_KEY is set in the environment, so the new key comes from there: set it to the new key and FILES_MASTER_KEY_PREVIOUS to the old one, restart Parley, then run this without --generate",
    );
  let report: RotationReport;
  // Generated on request; the node (or this process) records it in DATA_DIR/secrets.json.
  const newKey = generate ? randomBytes(32) : null;
  const response = await adminRequest(
    dataDir,
    "/rotate-files-key",
    newKey ? { newKey: newKey.toString("hex") } : {},
  );
  if (response) {
    report = await followRotation(response);
  } else {
    say("No node is running on this DATA_DIR: rotating from this process…");
    const secrets = secretsOf(config, dataDir);
    const keys = keysOf(secrets);
    const transfers = new Transfers(1);
    try {
      const root = path.join(dataDir, "files");
      const files = {
        keys,
        storage: withRemovalHolds(await DiskStorage.create(objectsDir(dataDir))),
        uploads: await EncryptedUploadStore.create(
          path.join(root, "uploads"),
          keys,
          filesSettings(config).uploadExpiryMs,
          transfers,
        ),
      };
      report = await rotateFilesKey({
        files,
        dataDir,
        keySource,
        ...(newKey ? { newKey } : {}),
        onProgress: ({ checked }) => {
          if (checked % 100 === 0) say(`…${checked} files checked`);
        },
      });
    } finally {
      await transfers.close();
    }
  }
  say(
    `Every file key is now wrapped by the key ${report.to}; the old key (${report.from}) no longer opens any file. ${report.rewrapped} of ${report.checked} re-wrapped.`,
  );
  if (report.keySource === "environment")
    say(
      "Remove FILES_MASTER_KEY_PREVIOUS from the environment. Take a new backup: older ones need the old key.",
    );
  else
    say("The new key is in DATA_DIR/secrets.json. Take a new backup: older ones hold the old key.");
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

const rotationLine = z.union([
  z.object({ progress: z.object({ checked: z.number(), rewrapped: z.number() }) }),
  z.object({ report: z.custom<RotationReport>((v) => typeof v === "object" && v !== null) }),
  z.object({ error: z.string() }),
]);

async function followRotation(response: IncomingMessage): Promise<RotationReport> {
  await expectOk(response);
  for await (const line of createInterface({ input: response, crlfDelay: Infinity })) {
    if (!line) continue;
    const message = rotationLine.parse(JSON.parse(line));
    if ("progress" in message) say(`…${message.progress.checked} files checked`);
    else if ("report" in message) return message.report;
    else throw new Error(message.error);
  }
  throw new Error("The node ended the rotation early (see its log); run this again to resume");
}

async function expectOk(response: IncomingMessage): Promise<void> {
  if (response.statusCode === 200) return;
  let text = "";
  for await (const chunk of response) text += String(chunk);
  const parsed = z.object({ error: z.string() }).safeParse(JSON.parse(text || "{}"));
  throw new Error(parsed.success ? parsed.data.error : `the node answered ${response.statusCode}`);
}

const usage = `Usage:
  npm run backup -- <file> [--no-secrets]
  npm run restore -- <file>
  npm run rotate-files-key [-- --generate]`;

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { "no-secrets": { type: "boolean" }, generate: { type: "boolean" } },
  });
  const config = loadEnv();
  const dataDir = path.resolve(config.DATA_DIR);
  const file = z.string().min(1).safeParse(positionals[0]);
  if (command === "backup" && file.success && positionals.length === 1 && !values.generate)
    return backup(config, dataDir, file.data, !values["no-secrets"]);
  if (command === "restore" && file.success && positionals.length === 1 && !values["no-secrets"])
    return restore(config, dataDir, file.data);
  if (command === "rotate-files-key" && positionals.length === 0 && !values["no-secrets"])
    return rotate(config, dataDir, values.generate === true);
  say(usage);
  process.exitCode = 2;
}

main()
  .catch((err: unknown) => {
    say(`${err instanceof RestoreRefused ? "Refused" : "Failed"}: ${(err as Error).message}`);
    process.exitCode = 1;
  })
  // Worker threads and database handles would keep a finished command alive.
  .finally(() => process.exit());
