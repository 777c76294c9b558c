/**
 * A web node's realtime half (Socket.IO, chat handlers, the database) as a child process
 * that R1 and R2 kill and restart. Run as `node --import ./scripts/node-hooks.mjs --import
 * tsx bench/chaos/web-node.ts` with CHAOS_DB (`pglite:<dir>` or a postgres:// URL). The
 * first start is given CHAOS_SETUP=<users>,<rooms>: it creates them and reports them. It
 * prints one JSON line on stdout when it serves; everything else goes to stderr.
 */
import { openDatabase, type Database } from "@/lib/db/client";
import { migrateDatabase } from "@/lib/db/migrate";
import { doCreateRoom, doJoinRoomBySlug } from "@/lib/rooms/service";
import { startStallWatchdog } from "@/lib/stall-watchdog";
import { createUser } from "@/test/support/fixtures";
import { startRealtimeServer } from "@/test/support/realtime-server";

export interface WebNodeReady {
  url: string;
  /** On the setup start only: the users (with a session cookie each) and the rooms. */
  users?: { id: string; cookie: string; roomId: string }[];
}

const target = process.env.CHAOS_DB ?? "";
const database: Database = target.startsWith("pglite:")
  ? await openDatabase({ kind: "pglite", dataDir: target.slice("pglite:".length) })
  : await openDatabase({ kind: "postgres", url: target, max: 10 });
await migrateDatabase(database);
// The load is the point here, not the per-user and per-socket limits.
const node = await startRealtimeServer(
  database.kind,
  { CHAT_RATE_POINTS: "1000000", SOCKET_COMMAND_BURST: "1000000" },
  { database },
);

// Watched from here on (opening PGlite compiles its WebAssembly once, on the main thread):
// each stall is an `event loop stalled <ms> ms` line on stderr, which the parent's WebNode reads.
startStallWatchdog({
  log: (message, fields) => process.stderr.write(`${message} ${JSON.stringify(fields)}\n`),
});

const ready: WebNodeReady = { url: node.url };
const setup = process.env.CHAOS_SETUP;
if (setup) {
  const [userCount, roomCount] = setup.split(",").map(Number) as [number, number];
  const owner = await createUser(database.db, "Owner");
  const rooms = [];
  for (let i = 0; i < roomCount; i++)
    rooms.push((await doCreateRoom(database.db, owner, { kind: "open" })).room);
  ready.users = [];
  for (let i = 0; i < userCount; i++) {
    const user = await createUser(database.db, `Sender ${i}`);
    const room = rooms[i % rooms.length]!;
    await doJoinRoomBySlug(database.db, user, room.slug);
    ready.users.push({ id: user.id, cookie: await node.cookieFor(user), roomId: room.id });
  }
}
process.stdout.write(`${JSON.stringify(ready)}\n`);
