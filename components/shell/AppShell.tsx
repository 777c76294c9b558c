"use client";

import { usePathname, useRouter } from "next/navigation";
import { type ReactNode, useState } from "react";
import type { SessionUser } from "@/lib/auth/schemas";
import { useActiveCall } from "@/lib/call/client/hooks";
import { useOutboxSender } from "@/lib/chat/client/use-outbox-sender";
import { openDirectRoom } from "@/lib/rooms/client";
import { adjacentRoom, slugOfPath } from "@/lib/rooms/navigation";
import type { RoomSummary } from "@/lib/rooms/schemas";
import { RoomListProvider, useRoomList } from "@/lib/rooms/use-room-list";
import { CallBar } from "@/components/call/CallBar";
import { CallHostProvider } from "@/components/call/CallHostProvider";
import { focusSearchBox } from "@/components/search/SearchBox";
import { AppHeader } from "@/components/ui/AppHeader";
import { Modal } from "@/components/ui/Modal";
import { QuickSwitcher } from "./QuickSwitcher";
import { RoomsNav } from "./RoomsNav";
import { ShortcutsDialog } from "./ShortcutsDialog";
import { useGlobalShortcuts } from "./use-global-shortcuts";
import styles from "./Shell.module.css";

/**
 * What every signed-in page sits in (app/(signed-in)/layout.tsx): the header, the rooms
 * sidebar (a drawer on phones), the quick switcher and the keyboard shortcuts, around the
 * page. It stays mounted across client navigations, and with it the page's one live list of
 * rooms, the outbox and the call you are in (with its call bar while you look elsewhere). Design: docs/architecture.md, "Moving between rooms".
 */
export function AppShell({
  user,
  initialRooms,
  children,
}: {
  user: SessionUser;
  initialRooms: RoomSummary[];
  children: ReactNode;
}) {
  return (
    <RoomListProvider userId={user.id} initialRooms={initialRooms}>
      <CallHostProvider>
        <Shell user={user}>{children}</Shell>
      </CallHostProvider>
    </RoomListProvider>
  );
}

type Open = "switcher" | "shortcuts" | "drawer" | null;

function Shell({ user, children }: { user: SessionUser; children: ReactNode }) {
  // Messages waiting in the outbox go out from any signed-in page.
  useOutboxSender(user.id);
  const router = useRouter();
  const rooms = useRoomList();
  const currentSlug = slugOfPath(usePathname());
  const [open, setOpen] = useState<Open>(null);
  const callRoomId = useActiveCall()?.call.room.roomId ?? null;
  const close = () => setOpen(null);

  const goTo = (slug: string) => {
    setOpen(null);
    router.push(`/r/${slug}`);
  };
  const step = (by: 1 | -1) => {
    const room = adjacentRoom(rooms, currentSlug, by);
    if (room) goTo(room.slug);
  };
  useGlobalShortcuts({
    quickSwitcher: () => setOpen("switcher"),
    previousRoom: () => step(-1),
    nextRoom: () => step(1),
    showShortcuts: () => setOpen("shortcuts"),
    focusSearch: focusSearchBox,
  });

  const nav = (inDrawer: boolean) => (
    <RoomsNav
      rooms={rooms}
      currentSlug={currentSlug}
      callRoomId={callRoomId}
      onFind={() => setOpen("switcher")}
      onShortcuts={() => setOpen("shortcuts")}
      onNavigate={inDrawer ? close : undefined}
    />
  );

  return (
    <div className={styles.shell}>
      <AppHeader
        userName={user.displayName}
        start={
          <button
            type="button"
            className={`btn btn-ghost btn-small ${styles.drawerButton}`}
            aria-haspopup="dialog"
            aria-expanded={open === "drawer"}
            onClick={() => setOpen("drawer")}
          >
            <MenuIcon />
            Rooms
          </button>
        }
      />
      <div className={styles.body}>
        <div className={styles.sidebar}>{nav(false)}</div>
        <div className={styles.content}>{children}</div>
        <div className={styles.callBar}>
          <CallBar currentSlug={currentSlug} />
        </div>
      </div>
      {open === "drawer" && (
        <Modal label="Rooms" className={styles.drawer} onClose={close}>
          <div className={styles.dialogBar}>
            <span className={styles.dialogTitle}>Parley</span>
            <button type="button" className="btn btn-small" onClick={close}>
              Close
            </button>
          </div>
          {nav(true)}
        </Modal>
      )}
      {open === "switcher" && (
        <QuickSwitcher
          rooms={rooms}
          onOpenRoom={goTo}
          onOpenPerson={async (userId) => goTo((await openDirectRoom(userId)).slug)}
          onClose={close}
        />
      )}
      {open === "shortcuts" && <ShortcutsDialog onClose={close} />}
    </div>
  );
}

function MenuIcon() {
  return (
    <svg width="16" height="16" viewBox="0 0 24 24" aria-hidden="true" focusable="false">
      <path d="M3 6h18M3 12h18M3 18h18" stroke="currentColor" strokeWidth="2" fill="none" />
    </svg>
  );
}
