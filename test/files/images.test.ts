import { crc32, deflateSync } from "node:zlib";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SessionUser } from "@/lib/auth/schemas";
import type { Database } from "@/lib/db/client";
import { doCreateRoom } from "@/lib/rooms/service";
import { openTestDatabase } from "@/test/support/db";
import { createUser } from "@/test/support/fixtures";
import { download, uploadFile } from "./client";
import { type FilesHarness, startFilesHarness } from "./harness";
import { expectSameBytes } from "./bytes";

/** A PNG of width×height 1-bit pixels, all zero: tiny compressed, huge decoded. */
function pixelBomb(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, "latin1"), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 1; // bit depth
  ihdr[9] = 0; // greyscale
  const rows = Buffer.alloc(height * (1 + Math.ceil(width / 8)));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(rows, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

// Image handling does not touch the database beyond the attachment row: PGlite suffices.
describe("image previews", () => {
  let database: Database;
  let harness: FilesHarness;
  let ada: SessionUser;
  let roomId: string;

  beforeAll(async () => {
    database = await openTestDatabase("pglite");
    ada = await createUser(database.db, "Ada");
    roomId = (await doCreateRoom(database.db, ada, { kind: "open" })).room.id;
    harness = await startFilesHarness(database);
  });
  afterAll(async () => {
    await harness?.close();
    await database?.close();
  });

  it("makes a thumbnail of an image and records its displayed size", async () => {
    // A 800×600 JPEG whose EXIF says "rotate 90°": people see it 600 wide, 800 high.
    const jpeg = await sharp({
      create: { width: 800, height: 600, channels: 3, background: { r: 200, g: 40, b: 90 } },
    })
      .jpeg()
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const { attachment } = await uploadFile(harness, ada, roomId, jpeg, "photo.jpg");
    expect(attachment).toMatchObject({
      mimeType: "image/jpeg",
      hasThumbnail: true,
      width: 600,
      height: 800,
    });
    const thumb = await download(harness, ada, `/api/files/${attachment.id}/thumbnail`);
    expect(thumb.status).toBe(200);
    expect(thumb.headers.get("content-type")).toBe("image/webp");
    const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
    expect(meta.format).toBe("webp");
    expect([meta.width, meta.height]).toEqual([360, 480]);
    const full = await download(harness, ada, `/api/files/${attachment.id}`);
    expect(full.headers.get("content-disposition")).toMatch(/^inline;/);
    expectSameBytes(await full.arrayBuffer(), jpeg);
  });

  it("keeps a corrupt image downloadable, without a preview", async () => {
    const good = await sharp({ create: { width: 64, height: 64, channels: 3, background: "blue" } })
      .png()
      .toBuffer();
    // The structure stays a PNG (so it is sniffed as one); the compressed pixels are junk.
    const corrupt = Buffer.from(good);
    const idat = corrupt.indexOf("IDAT") + 4;
    corrupt.fill(0xab, idat, idat + 20);
    const { attachment } = await uploadFile(harness, ada, roomId, corrupt, "broken.png");
    expect(attachment).toMatchObject({ mimeType: "image/png", hasThumbnail: false });
    const res = await download(harness, ada, `/api/files/${attachment.id}`);
    expect(res.status).toBe(200);
    // Not decoded inline by anyone's browser either.
    expect(res.headers.get("content-disposition")).toMatch(/^attachment;/);
    expectSameBytes(await res.arrayBuffer(), corrupt);
    expect((await download(harness, ada, `/api/files/${attachment.id}/thumbnail`)).status).toBe(
      404,
    );
  });

  it("refuses to decode a decompression bomb, and stays responsive", async () => {
    const bomb = pixelBomb(20_000, 20_000); // 400 M pixels, a few tens of KB
    expect(bomb.length).toBeLessThan(200_000);
    const rssBefore = process.memoryUsage().rss;
    const started = Date.now();
    const { attachment } = await uploadFile(harness, ada, roomId, bomb, "bomb.png");
    expect(Date.now() - started).toBeLessThan(5000);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 * 1024);
    expect(attachment).toMatchObject({ mimeType: "image/png", hasThumbnail: false, width: null });
    const res = await download(harness, ada, `/api/files/${attachment.id}`);
    expect(res.headers.get("content-disposition")).toMatch(/^attachment;/);
    expectSameBytes(await res.arrayBuffer(), bomb);
  });
});
