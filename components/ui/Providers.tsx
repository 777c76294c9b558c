"use client";

import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { type ReactNode, useEffect, useState } from "react";
import { registerServiceWorker } from "@/lib/notify/client/push";

/** Client-side providers for every page: the TanStack Query cache; the service worker. */
export function Providers({ children }: { children: ReactNode }) {
  // Notifications, the offline page and installing all need it (public/sw.js).
  useEffect(() => {
    void registerServiceWorker();
  }, []);
  const [queryClient] = useState(
    () =>
      new QueryClient({
        defaultOptions: {
          queries: { staleTime: 30_000, retry: 1, refetchOnWindowFocus: true },
        },
      }),
  );
  return <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>;
}
