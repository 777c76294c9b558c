import type { ReactNode } from "react";
import { AppShell } from "@/components/shell/AppShell";
import { getSessionUser } from "@/lib/auth/session";
import { withCallCounts } from "@/lib/realtime/call-handlers";
import { listRoomsForUser } from "@/lib/rooms/service";
import { db, runtime } from "@/lib/server/runtime";

/**
 * Every signed-in page (home, a room, settings) inside one shell — the header, the rooms
 * sidebar, the quick switcher and the keyboard shortcuts — that stays mounted while you
 * move between them, so a room switch is a client navigation and the list stays live.
 * Signed out, the page itself sends you to /signin (and back).
 */
export default async function SignedInLayout({ children }: { children: ReactNode }) {
  const user = await getSessionUser();
  if (!user) return children;
  const rooms = await withCallCounts(runtime().io, await listRoomsForUser(db(), user.id));
  return (
    <AppShell user={user} initialRooms={rooms}>
      {children}
    </AppShell>
  );
}
