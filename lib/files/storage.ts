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
