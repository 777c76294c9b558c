import "server-only";
import sharp from "sharp";
import { logger } from "@/lib/server/log";

const log = logger("files");

// One libvips thread and no operation cache: thumbnails are occasional, and the web node
// has chat and calls to serve on two cores.
sharp.concurrency(1);
sharp.cache(false);

export interface Preview {
  /** A WebP that fits in size×size, or null when the image could not (or must not) be decoded. */
  thumbnail: Buffer | null;
  /** The image's displayed size (after EXIF rotation), when known. */
  width: number | null;
  height: number | null;
}

const NO_PREVIEW: Preview = { thumbnail: null, width: null, height: null };

/**
 * Makes image thumbnails one at a time, so a burst of uploads cannot make the server
 * hold many decoded images at once. An image over `maxPixels` is refused from its header
 * alone, before anything is decoded (decompression bombs); a corrupt image gets no
 * preview and stays downloadable.
 */
export class ThumbnailMaker {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: { maxPixels: number; size: number }) {}

  preview(image: Buffer): Promise<Preview> {
    const run = this.queue.then(() => this.make(image));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async make(image: Buffer): Promise<Preview> {
    const input = () =>
      sharp(image, {
        limitInputPixels: this.options.maxPixels,
        failOn: "error",
        sequentialRead: true,
      });
    try {
      const meta = await input().metadata();
      const width = meta.autoOrient?.width ?? meta.width ?? null;
      const height = meta.autoOrient?.height ?? meta.height ?? null;
      const thumbnail = await input()
        .rotate()
        .resize(this.options.size, this.options.size, { fit: "inside", withoutEnlargement: true })
        .webp({ quality: 75 })
        .toBuffer();
      return { thumbnail, width, height };
    } catch (err) {
      log.info("no thumbnail for an uploaded image", { reason: (err as Error).message });
      return NO_PREVIEW;
    }
  }
}
