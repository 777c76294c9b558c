import "server-only";
import { chmod, lstat, mkdir, readdir } from "node:fs/promises";
import path from "node:path";

/** Directories: the owner only. */
export const PRIVATE_DIR_MODE = 0o700;
/** Files: the owner reads and writes, nobody else anything. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * DATA_DIR holds the database, the encrypted files and the generated secrets: nothing in it
 * is for other local users. It is created 0700, and at every start everything inside is
 * tightened (directories 0700, files 0600, execute bits dropped): PGlite writes its files
 * 0666 less the umask, and a DATA_DIR from an older version was created 0755. Symbolic
 * links are left alone, never followed, so a link cannot make this chmod something
 * outside. Returns how many entries it changed.
 */
export async function securePrivateDir(dir: string): Promise<number> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  return tighten(dir);
}

async function tighten(target: string): Promise<number> {
  const stat = await lstat(target);
  if (stat.isSymbolicLink()) return 0;
  const mode = stat.isDirectory() ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE;
  let changed = 0;
  if ((stat.mode & 0o777) !== mode) {
    await chmod(target, mode);
    changed++;
  }
  if (stat.isDirectory()) {
    for (const entry of await readdir(target)) changed += await tighten(path.join(target, entry));
  }
  return changed;
}
