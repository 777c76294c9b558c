import "server-only";
import type { Db } from "@/lib/db/client";
import { service } from "@/lib/server/runtime";
import type { FilesSettings } from "./settings";
import type { MasterKeys } from "./crypto/encryption";
import type { HoldableStorage } from "./storage";
import type { ThumbnailMaker } from "./thumbnails";
import type { Transfers } from "./crypto/transfers";
import type { EncryptedUploadStore } from "./upload-store";

/**
 * Everything file sharing works with, built once by createFilesFeature (./node.ts) and
 * published on the runtime, so the route handler that Next bundles (the Files list) reaches
 * the same database and settings as the plain-Node endpoints in server.ts (./http/).
 */
export interface Files {
  db: Db;
  storage: HoldableStorage;
  /** The master keys that wrap every object's key (swapped by a key rotation). */
  keys: MasterKeys;
  settings: FilesSettings;
  uploads: EncryptedUploadStore;
  thumbnails: ThumbnailMaker;
  /** Worker threads that encrypt and decrypt large transfers off the main thread. */
  transfers: Transfers;
  /** Finishes in progress, by upload id, so a retry joins the running one. */
  finishing: Map<string, Promise<unknown>>;
}

/** The running app's file sharing (route handlers). */
export function files(): Files {
  return service("files");
}

/**
 * Errors are matched by name, not instanceof: server.ts and Next's bundle each have their
 * own copy of the error classes.
 */
export function isErrorNamed(err: unknown, name: "TamperedError" | "ObjectNotFoundError"): boolean {
  return err instanceof Error && err.name === name;
}
