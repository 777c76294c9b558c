"use client";

import Link from "next/link";
import { useSyncExternalStore } from "react";

/** The id `Join call` points its description at while the page cannot call. */
export const INSECURE_NOTICE_ID = "insecure-origin-notice";

const noChange = () => () => {};

/**
 * Whether this page may use cameras, microphones, notifications and passkeys: browsers
 * allow them only in a secure context (HTTPS, or http://localhost). Assumed while the
 * server renders; the browser's answer replaces it once the page hydrates.
 */
export function useSecureContext(): boolean {
  return useSyncExternalStore(
    noChange,
    () => window.isSecureContext,
    () => true,
  );
}

/** Why `Join call` cannot work on this address, and where the setup is (issue 11). */
export function SecureContextNotice() {
  return (
    <div role="alert" id={INSECURE_NOTICE_ID} className="alert">
      <strong>This page is not on HTTPS.</strong> Browsers allow calls (camera and microphone),
      notifications and passkeys only on a secure connection, so joining the call from this address
      cannot work. Open Parley over https:// instead —{" "}
      <Link href="/help/https">how to set up HTTPS</Link>.
    </div>
  );
}
