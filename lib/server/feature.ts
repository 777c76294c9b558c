import "server-only";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

/**
 * A part of the web node that needs more than Next's route handlers: a plain-Node HTTP
 * route (a stream that must not be buffered), a WebSocket upgrade, a readiness check or
 * something to shut down. server.ts offers each request and upgrade to the features in
 * order before handing it to Next.
 */
export interface Feature {
  readonly name: string;
  /** Returns true when it took the request. */
  handleRequest?(req: IncomingMessage, res: ServerResponse): boolean;
  /** Returns true when it took the upgrade. */
  handleUpgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Reported by GET /api/health. */
  ready?(): boolean | Promise<boolean>;
  close?(): Promise<void>;
}
