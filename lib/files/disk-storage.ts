import "server-only";
import { randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { type FileHandle, mkdir, open, opendir, rename, rm, stat, unlink } from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type FileStorage, isStorageKey, ObjectNotFoundError, type StoredObject } from "./storage";

/**
 * Objects as files under `root` (DATA_DIR/files/objects), fanned out by the key's first
 * two characters so no directory grows huge. Writes go to a temporary name in the same
 * directory and are renamed into place, so a reader never sees half an object.
 */
export class DiskStorage implements FileStorage {
  private constructor(private readonly root: string) {}

  static async create(root: string): Promise<DiskStorage> {
    await mkdir(root, { recursive: true, mode: 0o700 });
    return new DiskStorage(root);
  }

  private pathOf(key: string): string {
    // Keys are made by newStorageKey(); anything else is a bug or an attack on the path.
    if (!isStorageKey(key)) throw new Error(`Invalid storage key ${JSON.stringify(key)}`);
    return path.join(this.root, key.slice(0, 2), key);
  }

  localPath(key: string): string {
    return this.pathOf(key);
  }

  async open(key: string): Promise<StoredObject> {
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(key), "r");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new ObjectNotFoundError(key);
      throw err;
    }
    const { size } = await handle.stat();
    return {
      size,
      async read(position, length, target) {
        let filled = 0;
        while (filled < length) {
          const { bytesRead } = await handle.read(
            target,
            filled,
            length - filled,
            position + filled,
          );
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        return target.subarray(0, filled);
      },
      close: () => handle.close(),
    };
  }

  async write(key: string, source: Readable | Buffer): Promise<void> {
    const target = this.pathOf(key);
    await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    const temp = `${target}.${randomBytes(6).toString("hex")}.part`;
    try {
      await pipeline(
        Buffer.isBuffer(source) ? [source] : source,
        createWriteStream(temp, { mode: 0o600 }),
      );
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }

  async adopt(key: string, localPath: string): Promise<void> {
    const target = this.pathOf(key);
    await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
    // Uploads are staged under the same DATA_DIR, so this is a rename, not a copy.
    await rename(localPath, target);
  }

  async remove(key: string): Promise<void> {
    try {
      await unlink(this.pathOf(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }

  async *list(): AsyncIterable<{ key: string; modifiedAt: Date }> {
    const top = await opendir(this.root);
    for await (const fan of top) {
      if (!fan.isDirectory()) continue;
      const dir = path.join(this.root, fan.name);
      for await (const entry of await opendir(dir)) {
        if (!entry.isFile() || !isStorageKey(entry.name)) continue;
        const info = await stat(path.join(dir, entry.name)).catch(() => null);
        if (info) yield { key: entry.name, modifiedAt: info.mtime };
      }
    }
  }
}
