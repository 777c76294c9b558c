import { z } from "zod";

/**
 * A backup archive (docs/architecture.md, "Backup and restore"): a tar (lib/export/tar.ts)
 * whose entries are, in this order,
 *
 *   parley-backup/format.json          what this is: version, schema, secrets or not (first,
 *                                      so a restore refuses a wrong version before reading on)
 *   parley-backup/db/<table>.jsonl     every row of the table in one snapshot, a JSON array of
 *                                      Postgres' text output of each column per line
 *   parley-backup/objects/<key>        every stored object those rows name, as stored (encrypted)
 *   parley-backup/secrets.json         the node's secrets, FILES_MASTER_KEY included (optional)
 *   parley-backup/manifest.json        size and SHA-256 of every entry above (last)
 */
export const BACKUP_FORMAT = "parley-backup";
export const BACKUP_VERSION = 1;
export const ROOT = "parley-backup";

export const entryNames = {
  format: `${ROOT}/format.json`,
  table: (name: string) => `${ROOT}/db/${name}.jsonl`,
  object: (key: string) => `${ROOT}/objects/${key}`,
  secrets: `${ROOT}/secrets.json`,
  manifest: `${ROOT}/manifest.json`,
};

const fingerprint = z.string().regex(/^[0-9a-f]{16}$/);

export const formatSchema = z.object({
  format: z.literal(BACKUP_FORMAT),
  version: z.number().int(),
  createdAt: z.string(),
  /** Where it was taken from; a backup restores into either. */
  database: z.enum(["pglite", "postgres"]),
  /** The schema: drizzle's hashes of the migrations applied, in order. */
  migrations: z.array(z.string()),
  tables: z.array(
    z.object({
      name: z.string().regex(/^[a-z_][a-z0-9_]*$/),
      columns: z.array(z.string().regex(/^[a-z_][a-z0-9_]*$/)),
    }),
  ),
  includesSecrets: z.boolean(),
  /** The master keys that wrap the objects' keys (two during a rotation), by fingerprint. */
  filesKeys: z.array(fingerprint).min(1),
});
export type BackupFormat = z.infer<typeof formatSchema>;

export const manifestSchema = z.object({
  entries: z.array(
    z.object({
      name: z.string(),
      size: z.number().int().nonnegative(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
    }),
  ),
  rows: z.record(z.string(), z.number().int().nonnegative()),
  objects: z.number().int().nonnegative(),
  /** Objects the snapshot named that were gone when copied (deleted on another web node). */
  missingObjects: z.array(z.string()),
});
export type BackupManifest = z.infer<typeof manifestSchema>;

/** What a backup's caller is told, and the CLI prints. */
export interface BackupSummary {
  bytes: number;
  rows: Record<string, number>;
  objects: number;
  missingObjects: number;
  includesSecrets: boolean;
  filesKeys: string[];
}

/** Said on every backup and restore without the key: loud, because it is easy to miss. */
export function missingKeyWarning(fingerprints: string[]): string {
  const line = "!".repeat(78);
  return [
    line,
    "!! This backup does NOT contain FILES_MASTER_KEY (nor the other secrets).",
    "!! Without that key the files in it can NEVER be read back: keep the key safe,",
    `!! separately (fingerprint ${fingerprints.join(", previous ")}; see docs/backup.md).`,
    line,
  ].join("\n");
}
