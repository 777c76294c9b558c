import "server-only";

/**
 * A request body read from its stream, or null as soon as it passes `limit` bytes: the
 * read is then cancelled, so no more than the limit (plus the chunk that crossed it) is
 * ever held, whatever the client sends and whether or not it declared a Content-Length.
 * The cancel is not awaited: on a tee'd body (`req.clone()`) it settles only once the
 * other branch is cancelled too.
 */
export async function readCapped(
  body: ReadableStream<Uint8Array> | null,
  limit: number,
): Promise<Buffer | null> {
  if (!body) return Buffer.alloc(0);
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    size += value.byteLength;
    if (size > limit) {
      void reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
}
