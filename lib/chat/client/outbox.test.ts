import { describe, expect, it } from "vitest";
import { until } from "@/test/support/client-transport";
import { MemoryOutboxStore, Outbox, type OutboxItem, type OutboxStore } from "./outbox";

const item = (clientId: string, createdAt: string): OutboxItem => ({
  clientId,
  userId: "u-ada",
  roomId: "r-1",
  body: clientId,
  createdAt,
  status: "pending",
});

/** A store other tabs share: `otherTabChanged` is their BroadcastChannel message. */
class SharedStore implements OutboxStore {
  private readonly memory = new MemoryOutboxStore();
  private readonly listeners = new Set<() => void>();
  getAll = () => this.memory.getAll();
  put = (i: OutboxItem) => this.memory.put(i);
  delete = (clientId: string) => this.memory.delete(clientId);
  watch(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  otherTabChanged(): void {
    for (const listener of this.listeners) listener();
  }
}

/** The outbox over its store: what a page holds in memory follows what is stored. */
describe("Outbox", () => {
  it("keeps a message written while the store is still being read", async () => {
    const store = new MemoryOutboxStore();
    await store.put(item("stored", "2026-01-01T00:00:00.000Z"));
    const outbox = new Outbox(store);
    // Written at once, before the first read of the store has finished.
    const written = outbox.put(item("written", "2026-01-01T00:00:01.000Z"));
    await outbox.loaded;
    await written;
    expect(outbox.pending("u-ada").map((i) => i.clientId)).toEqual(["stored", "written"]);
  });

  it("does not bring back a message removed while the store is being read", async () => {
    const store = new SharedStore();
    await store.put(item("sent", "2026-01-01T00:00:00.000Z"));
    const outbox = new Outbox(store);
    await outbox.loaded;
    let changes = 0;
    outbox.subscribe(() => changes++);
    // Another tab changed the store: this one reads it again, and meanwhile removes the item.
    store.otherTabChanged();
    await outbox.remove("sent");
    // Two changes: the removal, then the reload.
    await until(
      (listener) => outbox.subscribe(listener),
      () => changes === 2,
      "the reload",
    );
    expect(outbox.pending("u-ada")).toEqual([]);
  });

  it("lists a room's items oldest first, the same array until something changes", async () => {
    const outbox = new Outbox(new MemoryOutboxStore());
    await outbox.loaded;
    await outbox.put(item("b", "2026-01-01T00:00:02.000Z"));
    await outbox.put(item("a", "2026-01-01T00:00:01.000Z"));
    const listed = outbox.list("r-1");
    expect(listed.map((i) => i.clientId)).toEqual(["a", "b"]);
    expect(outbox.list("r-1")).toBe(listed);
    await outbox.update("a", { status: "failed", error: "Too long" });
    expect(outbox.list("r-1")).not.toBe(listed);
    expect(outbox.pending("u-ada").map((i) => i.clientId)).toEqual(["b"]);
  });
});
