import { type IDBPDatabase, openDB } from "idb";

/**
 * Messages written but not yet acknowledged, kept in IndexedDB so a message written
 * offline, or just before a reload or a crash, is still sent — exactly once, because the
 * server is idempotent on clientId. Tabs of one browser share the outbox and tell each
 * other about changes over a BroadcastChannel. Falls back to memory where IndexedDB is
 * unavailable (some private modes).
 */
export interface OutboxItem {
  clientId: string;
  /** Whose message: only that user's session ever sends it. */
  userId: string;
  roomId: string;
  body: string;
  replyToId?: string;
  attachmentIds?: string[];
  /** Display only: who wrote it and when, for the pending bubble. */
  createdAt: string;
  status: "pending" | "failed";
  /** Why the server refused it, when status is failed. */
  error?: string;
}

type Listener = () => void;

const DB_NAME = "parley";
const STORE = "outbox";

export class Outbox {
  private items = new Map<string, OutboxItem>();
  private listeners = new Set<Listener>();
  private idb: Promise<IDBPDatabase | null>;
  private channel: BroadcastChannel | null;
  private snapshotCache = new Map<string, OutboxItem[]>();
  readonly loaded: Promise<void>;

  constructor() {
    // On the server (while rendering) there is no IndexedDB: the outbox is simply empty.
    this.idb =
      typeof indexedDB === "undefined"
        ? Promise.resolve(null)
        : openDB(DB_NAME, 1, {
            upgrade(db) {
              db.createObjectStore(STORE, { keyPath: "clientId" });
            },
          }).catch(() => null);
    this.channel =
      typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel("parley-outbox");
    this.channel?.addEventListener("message", () => void this.reload());
    this.loaded = this.reload();
  }

  /** Items of one room, oldest first. The same array until something changes (for React). */
  list(roomId: string): OutboxItem[] {
    let cached = this.snapshotCache.get(roomId);
    if (!cached) {
      cached = [...this.items.values()]
        .filter((i) => i.roomId === roomId)
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
      this.snapshotCache.set(roomId, cached);
    }
    return cached;
  }

  pending(userId: string): OutboxItem[] {
    return [...this.items.values()]
      .filter((i) => i.status === "pending" && i.userId === userId)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async put(item: OutboxItem): Promise<void> {
    this.items.set(item.clientId, item);
    this.changed();
    const idb = await this.idb;
    await idb?.put(STORE, item);
    this.channel?.postMessage("changed");
  }

  async remove(clientId: string): Promise<void> {
    if (!this.items.delete(clientId)) return;
    this.changed();
    const idb = await this.idb;
    await idb?.delete(STORE, clientId);
    this.channel?.postMessage("changed");
  }

  async update(clientId: string, patch: Partial<Pick<OutboxItem, "status" | "error">>) {
    const item = this.items.get(clientId);
    if (!item) return;
    await this.put({ ...item, ...patch });
  }

  private async reload(): Promise<void> {
    const idb = await this.idb;
    if (!idb) return;
    const all = (await idb.getAll(STORE)) as OutboxItem[];
    this.items = new Map(all.map((i) => [i.clientId, i]));
    this.changed();
  }

  private changed() {
    this.snapshotCache.clear();
    for (const listener of this.listeners) listener();
  }
}

let shared: Outbox | null = null;
export function getOutbox(): Outbox {
  shared ??= new Outbox();
  return shared;
}
