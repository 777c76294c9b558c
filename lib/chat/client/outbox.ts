import { type IDBPDatabase, openDB } from "idb";

/**
 * Messages written but not yet acknowledged, kept in IndexedDB so a message written
 * offline, or just before a reload or a crash, is still sent — exactly once, because the
 * server is idempotent on clientId. Tabs of one browser share the outbox and tell each
 * other about changes over a BroadcastChannel. Falls back to memory where IndexedDB is
 * unavailable (the server while rendering, some private modes); tests pass a memory store.
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

/**
 * Where the outbox keeps its items. `put` and `delete` reach every tab of the browser;
 * `watch` hears about changes made by the others.
 */
export interface OutboxStore {
  getAll(): Promise<OutboxItem[]>;
  put(item: OutboxItem): Promise<void>;
  delete(clientId: string): Promise<void>;
  /** Calls `listener` when another tab changed the store; returns the undo. */
  watch(listener: Listener): () => void;
}

/** This page's memory only: where IndexedDB is missing (the server, tests, some private modes). */
export class MemoryOutboxStore implements OutboxStore {
  private readonly items = new Map<string, OutboxItem>();
  async getAll(): Promise<OutboxItem[]> {
    return [...this.items.values()];
  }
  async put(item: OutboxItem): Promise<void> {
    this.items.set(item.clientId, item);
  }
  async delete(clientId: string): Promise<void> {
    this.items.delete(clientId);
  }
  watch(): () => void {
    return () => undefined;
  }
}

const DB_NAME = "parley";
const STORE = "outbox";

/** The browser's IndexedDB, shared by its tabs, which tell each other over a BroadcastChannel. */
class IndexedDbOutboxStore implements OutboxStore {
  private readonly idb: Promise<IDBPDatabase | null>;
  private readonly fallback = new MemoryOutboxStore();
  private readonly channel: BroadcastChannel | null =
    typeof BroadcastChannel === "undefined" ? null : new BroadcastChannel("parley-outbox");

  constructor() {
    this.idb = openDB(DB_NAME, 1, {
      upgrade(db) {
        db.createObjectStore(STORE, { keyPath: "clientId" });
      },
    }).catch(() => null);
  }

  async getAll(): Promise<OutboxItem[]> {
    const idb = await this.idb;
    return idb ? ((await idb.getAll(STORE)) as OutboxItem[]) : this.fallback.getAll();
  }

  async put(item: OutboxItem): Promise<void> {
    const idb = await this.idb;
    await (idb ? idb.put(STORE, item) : this.fallback.put(item));
    this.channel?.postMessage("changed");
  }

  async delete(clientId: string): Promise<void> {
    const idb = await this.idb;
    await (idb ? idb.delete(STORE, clientId) : this.fallback.delete(clientId));
    this.channel?.postMessage("changed");
  }

  watch(listener: Listener): () => void {
    this.channel?.addEventListener("message", listener);
    return () => this.channel?.removeEventListener("message", listener);
  }
}

export class Outbox {
  private items = new Map<string, OutboxItem>();
  private listeners = new Set<Listener>();
  private snapshotCache = new Map<string, OutboxItem[]>();
  /** Bumped by every local write, so a reload that raced one reads the store again. */
  private writes = 0;
  readonly loaded: Promise<void>;

  constructor(
    private readonly store: OutboxStore = typeof indexedDB === "undefined"
      ? new MemoryOutboxStore()
      : new IndexedDbOutboxStore(),
  ) {
    store.watch(() => void this.reload());
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
    this.writes++;
    this.changed();
    await this.store.put(item);
  }

  async remove(clientId: string): Promise<void> {
    if (!this.items.delete(clientId)) return;
    this.writes++;
    this.changed();
    await this.store.delete(clientId);
  }

  async update(clientId: string, patch: Partial<Pick<OutboxItem, "status" | "error">>) {
    const item = this.items.get(clientId);
    if (!item) return;
    await this.put({ ...item, ...patch });
  }

  private async reload(): Promise<void> {
    let all: OutboxItem[];
    let writes: number;
    // A write made here while the store was being read is not in what it returned: read
    // again (the store applies operations in the order they were asked for).
    do {
      writes = this.writes;
      all = await this.store.getAll();
    } while (writes !== this.writes);
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
