import { performance } from "node:perf_hooks";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { SNIFF_BYTES, sniffType, webmHasOnlyAudio } from "./sniff";
import { Transfers } from "./crypto/transfers";

/** An EBML element with a one-byte size (bodies under 127 bytes). */
function element(id: number[], body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(id), Buffer.from([0x80 | body.length]), body]);
}

/** A WebM start: header, then a Segment of unknown size (as MediaRecorder writes) with its tracks. */
function webm(trackTypes: number[]): Buffer {
  const header = element([0x1a, 0x45, 0xdf, 0xa3], element([0x42, 0x82], Buffer.from("webm")));
  const entries = trackTypes.map((t) => element([0xae], element([0x83], Buffer.from([t]))));
  const tracks = element([0x16, 0x54, 0xae, 0x6b], Buffer.concat(entries));
  const segment = Buffer.concat([
    Buffer.from([0x18, 0x53, 0x80, 0x67, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
    tracks,
    // A Cluster of unknown size follows; the walk stops there.
    Buffer.from([0x1f, 0x43, 0xb6, 0x75, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
  ]);
  return Buffer.concat([header, segment]);
}

describe("sniffType", () => {
  it("reads images from their content, not their name or claimed type", async () => {
    const png = await sharp({ create: { width: 2, height: 2, channels: 3, background: "red" } })
      .png()
      .toBuffer();
    expect(await sniffType(png)).toBe("image/png");
  });

  it("tells a voice note (audio-only WebM) from a video", async () => {
    expect(webmHasOnlyAudio(webm([2]))).toBe(true);
    expect(webmHasOnlyAudio(webm([1, 2]))).toBe(false);
    expect(webmHasOnlyAudio(webm([]))).toBe(false);
    expect(await sniffType(webm([2]))).toBe("audio/webm");
    expect(await sniffType(webm([1, 2]))).toBe("video/webm");
  });

  it("names SVG and HTML, which are never served inline", async () => {
    expect(await sniffType(Buffer.from('<?xml version="1.0"?>\n<svg xmlns="x"></svg>'))).toBe(
      "image/svg+xml",
    );
    expect(await sniffType(Buffer.from("  <!DOCTYPE html><p>hi"))).toBe("text/html");
    expect(await sniffType(Buffer.from("<script>alert(1)</script>"))).toBe("text/html");
    expect(await sniffType(Buffer.from('<?xml version="1.0"?><feed/>'))).toBe("application/xml");
  });

  it("calls valid UTF-8 text plain, and anything else octet-stream", async () => {
    expect(await sniffType(Buffer.from("héllo, world\n"))).toBe("text/plain");
    // A multi-byte character cut off by the end of the sample is still text.
    expect(await sniffType(Buffer.from("é").subarray(0, 1))).toBe("text/plain");
    expect(await sniffType(Buffer.from([0x00, 0x01, 0x02, 0xff]))).toBe("application/octet-stream");
    expect(await sniffType(Buffer.from([0xc3, 0x28, 0x41]))).toBe("application/octet-stream");
  });
});

/** The upload that froze the server: ~200 bytes of empty comments, then something that is not markup. */
const COMMENT_BOMB = Buffer.from("<!---->".repeat(30) + "x");

describe("sniffing crafted content", () => {
  it("sniffs repeated empty comments in linear time", async () => {
    // The old `(<!--[\s\S]*?-->\s*)*` pattern took seconds here, doubling every 7 bytes.
    const started = performance.now();
    expect(await sniffType(COMMENT_BOMB)).toBe("text/plain");
    expect(await sniffType(Buffer.from("<!---->".repeat(1000) + "<svg>"))).toBe("image/svg+xml");
    expect(await sniffType(Buffer.from("<!---->".repeat(1000) + "<html>"))).toBe("text/html");
    expect(await sniffType(Buffer.from("<!--".repeat(2000)))).toBe("text/plain");
    expect(performance.now() - started).toBeLessThan(200);
  });

  it("still skips whitespace, comments, an XML declaration and a doctype", async () => {
    const svg =
      '<?xml version="1.0"?>\n<!-- a -->\n<!-- b --> <!DOCTYPE svg PUBLIC "x">\n<svg xmlns="x"/>';
    expect(await sniffType(Buffer.from(svg))).toBe("image/svg+xml");
    expect(await sniffType(Buffer.from(" <!-- x -->\n<body>hi"))).toBe("text/html");
    expect(await sniffType(Buffer.from("<!-- unclosed <html>"))).toBe("text/plain");
    expect(await sniffType(Buffer.from("<p>not a page</p>"))).toBe("text/plain");
  });

  it("looks at the first SNIFF_BYTES only", async () => {
    const late = Buffer.concat([Buffer.alloc(SNIFF_BYTES, " "), Buffer.from("<svg>")]);
    expect(await sniffType(late)).toBe("text/plain");
    // Binary after the window does not make a text file binary.
    const tail = Buffer.concat([Buffer.alloc(SNIFF_BYTES, "a"), Buffer.from([0, 0xff])]);
    expect(await sniffType(tail)).toBe("text/plain");
  });

  it("sniffs on a worker thread: the main thread's event loop stays responsive", async () => {
    const transfers = new Transfers(1);
    try {
      // Start the worker and load the sniffer before measuring.
      expect(await transfers.sniff(Buffer.from("hello"))).toBe("text/plain");
      let longestGap = 0;
      let last = performance.now();
      const ticker = setInterval(() => {
        const now = performance.now();
        longestGap = Math.max(longestGap, now - last);
        last = now;
      }, 5);
      const started = performance.now();
      const results = await Promise.all(
        Array.from({ length: 20 }, () => transfers.sniff(COMMENT_BOMB)),
      );
      const elapsed = performance.now() - started;
      clearInterval(ticker);
      expect(results).toEqual(Array(20).fill("text/plain"));
      expect(elapsed).toBeLessThan(1000);
      expect(longestGap).toBeLessThan(100);
      expect(transfers.running).toBe(0);
    } finally {
      await transfers.close();
    }
  });
});
