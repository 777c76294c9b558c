import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAdminChannel } from "@/lib/backup/admin";
import { MasterKeys, rewrapHeader } from "@/lib/files/crypto/encryption";
import { HEADER_LENGTH, TamperedError } from "@/lib/files/crypto/format";
import { openFiles } from "@/lib/files/node";
import { openObject } from "@/lib/files/objects";
import { rotateFilesKey } from "@/lib/files/rotation";
import { readHeader } from "@/lib/files/upload-store";
import { readStoredSecrets, writeStoredSecrets } from "@/lib/server/secrets";
import { TEST_SECRETS } from "@/test/support/config";
import { download, tusMetadata, tusRequest, uploadFile } from "@/test/files/client";
import { testSettings } from "@/test/files/harness";
import { type FilesFixture, startFilesFixture } from "@/test/files/fixture";
import { type TestDbKind, testDbKinds } from "@/test/support/db";
import { runCli } from "./cli";

/**
 * Rotating FILES_MASTER_KEY re-wraps object headers on disk and touches no table; it runs
 * beside either database all the same, so on both.
 */
describe.each(testDbKinds())("rotating the files master key (%s)", (kind: TestDbKind) => {
  let fixture: FilesFixture;
  let dataDir: string;
  const uploaded = new Map<string, Buffer>(); // attachment id → plaintext

  const storedKeys = async () => {
    const keys: string[] = [];
    for await (const object of fixture.harness.files.storage.list()) keys.push(object.key);
    return keys;
  };
  const everyFileDownloads = async () => {
    for (const [id, bytes] of uploaded) {
      const res = await download(fixture.harness, fixture.ada, `/api/files/${id}`);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    }
  };
  const opensWith = async (key: Buffer) => {
    const results = await Promise.all(
      (await storedKeys()).map((k) =>
        openObject(fixture.harness.files.storage, new MasterKeys(key), k).then(
          () => true,
          (err: unknown) => {
            expect(err).toBeInstanceOf(TamperedError);
            return false;
          },
        ),
      ),
    );
    return results;
  };

  beforeAll(async () => {
    fixture = await startFilesFixture(kind);
    dataDir = await mkdtemp(path.join(tmpdir(), "parley-rotation-"));
    writeStoredSecrets(dataDir, {
      ...TEST_SECRETS,
      filesMasterKey: fixture.harness.files.keys.current.toString("hex"),
    });
    for (const size of [3 * 1024 * 1024 + 1, 10, 70_000, 1, 5000]) {
      const bytes = randomBytes(size);
      const { attachment } = await uploadFile(
        fixture.harness,
        fixture.ada,
        fixture.roomId,
        bytes,
        `f${size}.bin`,
      );
      uploaded.set(attachment.id, bytes);
    }
  }, 60_000);
  afterAll(async () => {
    await fixture?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("re-wraps every key, resumes when interrupted, and the old key opens nothing after", async () => {
    const files = fixture.harness.files;
    const old = files.keys.current;
    // An upload left unfinished: its header is re-wrapped too, so it can still complete.
    const partial = randomBytes(2 * 1024 * 1024);
    const created = await tusRequest(fixture.harness, fixture.ada, "POST", "/api/files/uploads", {
      "Upload-Length": String(partial.length),
      "Upload-Metadata": tusMetadata({ roomId: fixture.roomId, name: "later.bin" }),
    });
    expect(created.status).toBe(201);
    const uploadUrl = new URL(created.headers.get("location")!, fixture.harness.url).pathname;

    // Interrupted after two headers.
    const stop = new AbortController();
    await expect(
      rotateFilesKey({
        files,
        dataDir,
        keySource: "data-dir",
        onProgress: ({ checked }) => {
          if (checked === 2) stop.abort();
        },
        signal: stop.signal,
      }),
    ).rejects.toThrow();
    const midway = readStoredSecrets(dataDir);
    expect(midway.filesMasterKeyPrevious).toBe(old.toString("hex"));
    const next = Buffer.from(midway.filesMasterKey!, "hex");
    expect(next.equals(old)).toBe(false);
    expect((await opensWith(next)).some(Boolean)).toBe(true);
    expect((await opensWith(old)).some(Boolean)).toBe(true);
    await everyFileDownloads(); // both keys open, so every file reads meanwhile

    // And the machine stopped in the middle of writing a header: the journal has it.
    const keys = await storedKeys();
    const victim = keys[(await opensWith(old)).indexOf(true)]!;
    const local = files.storage.localPath!(victim);
    const header = await readHeader(local);
    const rewrapped = rewrapHeader(header, victim, { from: old, to: next }) ?? header;
    await writeFile(
      path.join(dataDir, "rotation.journal"),
      JSON.stringify({ file: local, header: rewrapped.toString("hex") }),
    );
    const torn = await readFile(local);
    torn.fill(0, 20, HEADER_LENGTH);
    await writeFile(local, torn);

    // Resumed by the node over its admin channel, as `npm run rotate-files-key` asks.
    const admin = await startAdminChannel({
      dataDir,
      database: fixture.database,
      files,
      secrets: { ...TEST_SECRETS, filesMasterKey: next.toString("hex") },
      keySource: "data-dir",
    });
    try {
      const resumed = await runCli("rotate-files-key", [], { DATA_DIR: dataDir });
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stderr).toContain("no longer opens any file");
    } finally {
      await admin.close();
    }
    expect(readStoredSecrets(dataDir).filesMasterKeyPrevious).toBeUndefined();
    expect(files.keys.previous).toBeNull();
    await everyFileDownloads();
    expect(await opensWith(next)).not.toContain(false);
    expect(await opensWith(old)).not.toContain(true);

    // The unfinished upload carries on under the new key.
    const patched = await tusRequest(
      fixture.harness,
      fixture.ada,
      "PATCH",
      uploadUrl,
      { "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream" },
      partial,
    );
    // Its last PATCH completes it (sealing the chunks under the unwrapped key, so the
    // header had to open with the new master key).
    expect(patched.status, await patched.clone().text()).toBe(200);
  }, 120_000);

  it("with the key in the environment: re-wraps from FILES_MASTER_KEY_PREVIOUS, writes no secrets", async () => {
    const before = fixture.harness.files.keys.current;
    const configured = randomBytes(32);
    // The node as restarted with FILES_MASTER_KEY=<new>, FILES_MASTER_KEY_PREVIOUS=<old>.
    const restarted = await openFiles({
      db: fixture.database.db,
      root: fixture.harness.root,
      masterKeyHex: configured.toString("hex"),
      previousMasterKeyHex: before.toString("hex"),
      settings: testSettings(),
    });
    const elsewhere = await mkdtemp(path.join(tmpdir(), "parley-rotation-env-"));
    try {
      const report = await rotateFilesKey({
        files: restarted,
        dataDir: elsewhere,
        keySource: "environment",
      });
      expect(report.rewrapped).toBeGreaterThan(0);
      expect(await opensWith(configured)).not.toContain(false);
      expect(await opensWith(before)).not.toContain(true);
      expect(readStoredSecrets(elsewhere)).toEqual({});
      await expect(
        rotateFilesKey({ files: restarted, dataDir: elsewhere, keySource: "environment" }),
      ).rejects.toThrow(/Nothing to rotate/);
    } finally {
      await restarted.transfers.close();
      await rm(elsewhere, { recursive: true, force: true });
    }
  }, 60_000);
});
