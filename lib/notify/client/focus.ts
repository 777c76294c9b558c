import { useEffect } from "react";
import { getSocket } from "@/lib/realtime/client";

/**
 * Tells the server which room this tab shows and whether someone is looking at it (the
 * page visible and the window focused): pushes for that room are held back meanwhile.
 * Sent on every change and again after every reconnect (the server keeps it per socket).
 */
export function useFocusReport(roomId: string | null): void {
  useEffect(() => {
    const socket = getSocket();
    const report = () => {
      if (!socket.connected) return;
      const active = document.visibilityState === "visible" && document.hasFocus();
      socket.timeout(5000).emit("client.focus", { roomId, active }, () => undefined);
    };
    report();
    socket.on("connect", report);
    document.addEventListener("visibilitychange", report);
    window.addEventListener("focus", report);
    window.addEventListener("blur", report);
    return () => {
      socket.off("connect", report);
      document.removeEventListener("visibilitychange", report);
      window.removeEventListener("focus", report);
      window.removeEventListener("blur", report);
      if (socket.connected)
        socket.timeout(5000).emit("client.focus", { roomId: null, active: false }, () => undefined);
    };
  }, [roomId]);
}
