import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { migrateDatabase } from "@/lib/db/migrate";
import { openDatabase } from "@/lib/db/client";
import { securePrivateDir } from "./data-dir";

const scratch: string[] = [];
afterEach(async () => {
  for (const dir of scratch.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "parley-data-dir-"));
  scratch.push(dir);
  return dir;
}

const modeOf = async (p: string) => (await lstat(p)).mode & 0o777;

/** Every entry under `root` (itself included) with its permission bits; links are not followed. */
async function modes(root: string): Promise<Map<string, { dir: boolean; mode: number }>> {
  const out = new Map<string, { dir: boolean; mode: number }>();
  const walk = async (p: string) => {
    const s = await lstat(p);
    if (s.isSymbolicLink()) return;
    out.set(path.relative(root, p) || ".", { dir: s.isDirectory(), mode: s.mode & 0o777 });
    if (s.isDirectory()) for (const e of await readdir(p)) await walk(path.join(p, e));
  };
  await walk(root);
  return out;
}

function expectPrivate(all: Map<string, { dir: boolean; mode: number }>) {
  for (const [name, { dir, mode }] of all) {
    expect({ name, mode: mode.toString(8) }).toEqual({ name, mode: dir ? "700" : "600" });
  }
}

describe("securePrivateDir", () => {
  it("creates DATA_DIR 0700, nested parents included", async () => {
    const dir = path.join(await tempDir(), "a", "data");
    await securePrivateDir(dir);
    expect((await modeOf(dir)).toString(8)).toBe("700");
    expect((await modeOf(path.dirname(dir))).toString(8)).toBe("700");
  });

  it("tightens an existing tree (dirs 0700, files 0600) and leaves what links point at alone", async () => {
    const dir = await tempDir();
    const outside = await tempDir();
    await chmod(dir, 0o755);
    await mkdir(path.join(dir, "files", "objects"), { recursive: true, mode: 0o777 });
    await writeFile(path.join(dir, "secrets.json"), "{}", { mode: 0o644 });
    await writeFile(path.join(dir, "files", "objects", "x"), "x", { mode: 0o777 });
    await writeFile(path.join(outside, "theirs"), "x", { mode: 0o644 });
    await symlink(path.join(outside, "theirs"), path.join(dir, "link"));
    expect(await securePrivateDir(dir)).toBe(5);
    expectPrivate(await modes(dir));
    expect((await stat(path.join(outside, "theirs"))).mode & 0o777).toBe(0o644);
    expect(await securePrivateDir(dir)).toBe(0);
  });

  it("leaves nothing of PGlite's readable by others", async () => {
    const dir = await tempDir();
    await chmod(dir, 0o755);
    const database = await openDatabase({ kind: "pglite", dataDir: path.join(dir, "pglite") });
    try {
      await migrateDatabase(database);
      const before = [...(await modes(dir)).values()];
      // What PGlite leaves by itself: world-readable files (the reason for this function).
      expect(before.some(({ dir: d, mode }) => !d && (mode & 0o077) !== 0)).toBe(true);
      await securePrivateDir(dir);
      expectPrivate(await modes(dir));
      // The database still works on tightened files.
      await database.ping();
    } finally {
      await database.close();
    }
  });
});
