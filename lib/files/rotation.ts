import "server-only";
import { randomBytes } from "node:crypto";
import { open, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import { readStoredSecrets, writeStoredSecrets } from "@/lib/server/secrets";
import { keyFingerprint, type MasterKeys, rewrapHeader } from "./crypto/encryption";
import { HEADER_LENGTH } from "./crypto/format";
import type { Files } from "./service";
import { readHeader } from "./upload-store";

/**
 * Rotating the files master key (docs/files.md, "Rotating the master key"). Every stored
 * object's key is wrapped by the master key in the object's 79-byte header (./crypto/
 * format.ts), so a rotation re-wraps each header in place: the chunks, sealed with the
 * object's own key, are untouched, and a 2 GB file costs one small write.
 *
 * While it runs the node holds both keys (MasterKeys: new objects are wrapped by the new
 * one, either opens), so files stay readable throughout. The header itself says which key
 * wraps it (the new key opens it or not), so an interrupted rotation resumes by running
 * again: headers already re-wrapped are skipped. The one write that could be torn — a
 * header half written when the machine stops — is protected by a journal: the new header
 * is made durable in DATA_DIR/rotation.journal before it is written, and replayed on resume.
 * When every header opens with the new key, the old key is dropped and no longer opens
 * anything.
 */

export interface RotationReport {
  /** Fingerprints (keyFingerprint) of the keys rotated from and to. */
  from: string;
  to: string;
  /** Headers looked at (stored objects and unfinished uploads) and re-wrapped. */
  checked: number;
  rewrapped: number;
  /** Where the new key lives: DATA_DIR/secrets.json, or the environment (FILES_MASTER_KEY). */
  keySource: KeySource;
}

export type KeySource = "data-dir" | "environment";

const journalSchema = z.object({ file: z.string(), header: z.string().regex(/^[0-9a-f]+$/) });

/** Rotations in progress, by key ring: one at a time per node. */
const running = new WeakMap<MasterKeys, Promise<RotationReport>>();

/**
 * Rotates to a new master key, or finishes a rotation already under way.
 *
 * - `keySource: "data-dir"` (the key is in DATA_DIR/secrets.json): the new key is
 *   `newKey`, or generated; secrets.json records it with the old one as previous before
 *   any header changes, and drops the old one once all are re-wrapped.
 * - `keySource: "environment"` (FILES_MASTER_KEY is configured): the operator has set the
 *   new FILES_MASTER_KEY and the old one as FILES_MASTER_KEY_PREVIOUS and restarted; this
 *   re-wraps, and the old key can then be removed from the environment.
 */
export function rotateFilesKey(options: {
  files: Pick<Files, "keys" | "storage" | "uploads">;
  dataDir: string;
  keySource: KeySource;
  newKey?: Buffer;
  /** Called after each header. */
  onProgress?: (progress: { checked: number; rewrapped: number }) => void;
  /** Stops the rotation between two headers (a node shutting down); run it again to resume. */
  signal?: AbortSignal;
}): Promise<RotationReport> {
  const { keys } = options.files;
  const inFlight = running.get(keys);
  if (inFlight) {
    if (options.newKey) return Promise.reject(new Error("A key rotation is already running"));
    return inFlight;
  }
  const run = rotate(options).finally(() => running.delete(keys));
  running.set(keys, run);
  return run;
}

async function rotate(options: Parameters<typeof rotateFilesKey>[0]): Promise<RotationReport> {
  const { files, dataDir, keySource, newKey } = options;
  const { keys } = files;
  if (keySource === "environment") {
    if (newKey)
      throw new Error(
        "FILES_MASTER_KEY is set in the environment: set the new key there (and the old one as FILES_MASTER_KEY_PREVIOUS), restart, and run the rotation again without a new key",
      );
    if (!keys.previous)
      throw new Error(
        "Nothing to rotate: every file key is wrapped by FILES_MASTER_KEY (a rotation with FILES_MASTER_KEY_PREVIOUS set has finished: remove it). To rotate, set FILES_MASTER_KEY to the new key and FILES_MASTER_KEY_PREVIOUS to the old one and restart Parley",
      );
  } else if (keys.previous) {
    if (newKey && !newKey.equals(keys.current))
      throw new Error("A rotation is under way: run it again without a new key to finish it");
  } else {
    const next = newKey ?? randomBytes(32);
    if (next.equals(keys.current)) throw new Error("The new key is the key in use");
    const stored = readStoredSecrets(dataDir);
    if (!stored.filesMasterKey || stored.filesMasterKey !== keys.current.toString("hex"))
      throw new Error("DATA_DIR/secrets.json does not hold the key in use; nothing was changed");
    // Durable before any header changes: a crash from here on restarts with both keys.
    writeStoredSecrets(dataDir, {
      ...(stored as Required<typeof stored>),
      filesMasterKey: next.toString("hex"),
      filesMasterKeyPrevious: keys.current.toString("hex"),
    });
    keys.previous = keys.current;
    keys.current = next;
  }
  const from = keys.previous!;
  const to = keys.current;
  const journal = path.join(dataDir, "rotation.journal");
  await replayJournal(journal);

  let checked = 0;
  let rewrapped = 0;
  // Unfinished uploads first: one finished meanwhile moves into the objects, which are
  // looked at next, so none is missed.
  const headers = async function* () {
    yield* files.uploads.stagedHeaders();
    const local = files.storage.localPath?.bind(files.storage);
    if (!local) throw new Error("Rotating the key needs storage on this machine's disk");
    for await (const object of files.storage.list())
      yield { file: local(object.key), context: object.key };
  };
  for await (const { file, context } of headers()) {
    options.signal?.throwIfAborted();
    const header = await readHeader(file).catch(() => null);
    checked++;
    // Null or short: gone meanwhile (an upload finished, a file deleted), or being written.
    const next =
      header && header.length === HEADER_LENGTH
        ? rewrapHeader(header, context, { from, to })
        : null;
    if (next) {
      await writeJournaled(journal, file, next);
      rewrapped++;
    }
    options.onProgress?.({ checked, rewrapped });
  }
  await rm(journal, { force: true });

  if (keySource === "data-dir") {
    const stored = readStoredSecrets(dataDir);
    const { filesMasterKeyPrevious: _dropped, ...rest } = stored;
    writeStoredSecrets(dataDir, rest as Required<typeof rest>);
  }
  keys.previous = null;
  return {
    from: keyFingerprint(from),
    to: keyFingerprint(to),
    checked,
    rewrapped,
    keySource,
  };
}

/** Makes the new header durable in the journal, then writes it over the old one. */
async function writeJournaled(journal: string, file: string, header: Buffer): Promise<void> {
  const record = await open(journal, "w", 0o600);
  try {
    await record.writeFile(JSON.stringify({ file, header: header.toString("hex") }));
    await record.sync();
  } finally {
    await record.close();
  }
  await writeHeader(file, header);
}

async function writeHeader(file: string, header: Buffer): Promise<void> {
  const handle = await open(file, "r+");
  try {
    await handle.write(header, 0, header.length, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** A header write the last run may have been cut off in the middle of: done again. */
async function replayJournal(journal: string): Promise<void> {
  const raw = await readFile(journal, "utf8").catch(() => null);
  if (raw === null) return;
  let value: unknown = null;
  try {
    value = JSON.parse(raw);
  } catch {
    // Cut short while it was written.
  }
  const parsed = journalSchema.safeParse(value);
  // A journal cut short was never acted on: its header write had not started.
  if (parsed.success) {
    await writeHeader(parsed.data.file, Buffer.from(parsed.data.header, "hex")).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code !== "ENOENT") throw err;
      },
    );
  }
  await rm(journal, { force: true });
}
