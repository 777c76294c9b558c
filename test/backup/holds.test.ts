import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { DiskStorage } from "@/lib/files/disk-storage";
import { newStorageKey, ObjectNotFoundError, withRemovalHolds } from "@/lib/files/storage";

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

it("holds object removals back while a backup runs, and does them when the last hold ends", async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "parley-holds-"));
  dirs.push(dir);
  const storage = withRemovalHolds(await DiskStorage.create(dir));
  const [a, b] = [newStorageKey(), newStorageKey()];
  await storage.write(a, Buffer.from("a"));
  await storage.write(b, Buffer.from("b"));
  const exists = (key: string) =>
    storage.open(key).then(
      async (o) => (await o.close(), true),
      (err: unknown) => (expect(err).toBeInstanceOf(ObjectNotFoundError), false),
    );

  const first = storage.holdRemovals();
  const second = storage.holdRemovals();
  await storage.remove(a); // a message deleted while two backups run
  expect(await exists(a)).toBe(true);
  await first();
  await first(); // releasing twice counts once
  expect(await exists(a)).toBe(true);
  await second();
  expect(await exists(a)).toBe(false);
  await storage.remove(b); // no hold: at once
  expect(await exists(b)).toBe(false);
});
