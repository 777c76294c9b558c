import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import { type AddressInfo, connect, createServer as createTcpServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { SessionUser } from "@/lib/auth/schemas";
import type { Database } from "@/lib/db/client";
import { openFiles, startFilesFeature } from "@/lib/files/node";
import type { Files } from "@/lib/files/service";
import type { FilesSettings } from "@/lib/files/settings";
import type { Feature } from "@/lib/server/feature";

/**
 * The file-sharing HTTP surface on a loopback port, without Next: the files feature's
 * handleRequest, as server.ts offers it every request (uploads, downloads, thumbnails,
 * DELETE). Sessions are a test cookie naming a user, so tests need no NextAuth.
 */
export interface FilesHarness {
  url: string;
  files: Files;
  root: string;
  feature: Feature;
  /** Cookie header that authenticates as `user`. */
  cookie(user: SessionUser): string;
  /** Called with each request before it is served (tests cut connections here). */
  onRequest: ((req: IncomingMessage) => void) | null;
  close(): Promise<void>;
}

export const testSettings = (over: Partial<FilesSettings> = {}): FilesSettings => ({
  maxBytes: 4 * 1024 * 1024,
  uploadExpiryMs: 60 * 60_000,
  maxImagePixels: 25_000_000,
  thumbnailMaxInputBytes: 4 * 1024 * 1024,
  thumbnailSize: 480,
  userQuotaBytes: 1024 * 1024 * 1024,
  roomQuotaBytes: 1024 * 1024 * 1024,
  maxPendingUploads: 100,
  ...over,
});

export async function startFilesHarness(
  database: Database,
  settings: FilesSettings = testSettings(),
): Promise<FilesHarness> {
  const root = await mkdtemp(path.join(tmpdir(), "parley-files-"));
  const files = await openFiles({
    db: database.db,
    root,
    masterKeyHex: randomBytes(32).toString("hex"),
    settings,
  });
  const sessions = new Map<string, SessionUser>();
  const authenticate = async (cookie: string | undefined) => {
    const token = /(?:^|;\s*)test-session=([0-9a-f]+)/.exec(cookie ?? "")?.[1];
    return (token && sessions.get(token)) || null;
  };
  const feature = startFilesFeature(files, { authenticate });
  const harness: FilesHarness = {
    url: "",
    files,
    root,
    feature,
    onRequest: null,
    cookie(user) {
      const token = randomBytes(8).toString("hex");
      sessions.set(token, user);
      return `test-session=${token}`;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await feature.close?.();
      await rm(root, { recursive: true, force: true });
    },
  };
  const server: Server = createServer((req, res) => {
    harness.onRequest?.(req);
    if (feature.handleRequest?.(req, res)) return;
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  harness.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return harness;
}

/**
 * A loopback TCP proxy to `target` that cuts the first PATCH request's connection once it
 * has forwarded `cutAfter` bytes of it: a dropped connection in the middle of an upload.
 */
export async function startCuttingProxy(
  target: string,
  cutAfter: number,
): Promise<{ url: string; cuts: () => number; close(): Promise<void> }> {
  const port = Number(new URL(target).port);
  let cuts = 0;
  const sockets = new Set<Socket>();
  const server = createTcpServer((client) => {
    const upstream = connect(port, "127.0.0.1");
    sockets.add(client).add(upstream);
    let patchBytes = -1;
    client.on("data", (data: Buffer) => {
      if (cuts === 0 && patchBytes < 0 && data.includes("PATCH ")) patchBytes = 0;
      if (cuts === 0 && patchBytes >= 0) {
        patchBytes += data.length;
        if (patchBytes >= cutAfter) {
          cuts++;
          // What got through reaches the server; then both sides see the connection drop.
          upstream.end(data.subarray(0, data.length - (patchBytes - cutAfter)));
          client.destroy();
          return;
        }
      }
      upstream.write(data);
    });
    upstream.on("data", (data: Buffer) => client.write(data));
    client.on("close", () => upstream.end());
    upstream.on("close", () => client.destroy());
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cuts: () => cuts,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
