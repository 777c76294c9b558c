import "server-only";
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";

/**
 * Where stored objects (encrypted files and thumbnails) live. Objects are opaque bytes
 * under random keys: a user's file name never reaches a path, and the backend never sees
 * plaintext. Local disk is the default (./disk-storage.ts); an S3-style backend would
 * implement the same interface.
 */
export interface FileStorage {
  /** Opens an object for reading at any position; throws ObjectNotFoundError. */
  open(key: string): Promise<StoredObject>;
  /** Stores a new object; it becomes visible under `key` only once complete. */
  write(key: string, source: Readable | Buffer): Promise<void>;
  /** Takes over a finished local file (a completed upload) as object `key`. */
  adopt(key: string, localPath: string): Promise<void>;
  /** Removes an object; removing a missing one is not an error. */
  remove(key: string): Promise<void>;
  /**
   * Where an object is on this machine's disk, for backends that keep it there: the
   * transfer workers read it directly. Absent for remote backends.
   */
  localPath?(key: string): string;
  /** Every stored object, for the sweep that removes objects nothing refers to. */
  list(): AsyncIterable<{ key: string; modifiedAt: Date }>;
}

/** An object open for reading. Reads fill a buffer the caller reuses, to spare the GC. */
export interface StoredObject {
  /** Stored size in bytes. */
  readonly size: number;
  /** Reads `length` bytes at `position` into `target`; returns the filled part of it. */
  read(position: number, length: number, target: Buffer): Promise<Buffer>;
  close(): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  constructor(key: string) {
    super(`No stored object ${key}`);
    this.name = "ObjectNotFoundError";
  }
}

/** 128 random bits, hex: unguessable and safe as a file name on any backend. */
export function newStorageKey(): string {
  return randomBytes(16).toString("hex");
}

export function isStorageKey(key: string): boolean {
  return /^[0-9a-f]{32}$/.test(key);
}

/** A storage whose removals can be held back while something reads a consistent set of objects. */
export interface HoldableStorage extends FileStorage {
  /**
   * Until the returned release is called, removals are noted instead of done (and done
   * then): a backup copying the objects its database snapshot names must find them all,
   * though a message deleted meanwhile would remove its files. A crash in between leaves
   * them to the sweep of objects no row names.
   */
  holdRemovals(): () => Promise<void>;
}

export function withRemovalHolds(inner: FileStorage): HoldableStorage {
  let holds = 0;
  const deferred = new Set<string>();
  return {
    open: (key) => inner.open(key),
    write: (key, source) => inner.write(key, source),
    adopt: (key, localPath) => inner.adopt(key, localPath),
    list: () => inner.list(),
    ...(inner.localPath ? { localPath: inner.localPath.bind(inner) } : {}),
    async remove(key) {
      if (holds > 0) deferred.add(key);
      else await inner.remove(key);
    },
    holdRemovals() {
      holds++;
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        if (--holds > 0) return;
        const keys = [...deferred];
        deferred.clear();
        for (const key of keys) await inner.remove(key);
      };
    },
  };
}
