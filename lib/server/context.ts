import "server-only";
import type { Server as HttpServer } from "node:http";
import type { Server as SocketServer } from "socket.io";
import type { Database } from "@/lib/db/client";
import type { Env } from "@/lib/env";
import type { Secrets } from "./secrets";

/** What server.ts hands each feature when it starts it. */
export interface NodeContext {
  env: Env;
  secrets: Secrets;
  /** DATA_DIR resolved to an absolute path. */
  dataDir: string;
  database: Database;
  httpServer: HttpServer;
  io: SocketServer;
}
