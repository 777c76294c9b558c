import { readJson } from "@/lib/api-client";
import {
  browserSupportsWebAuthn,
  browserSupportsWebAuthnAutofill,
  startAuthentication,
  startRegistration,
  WebAuthnAbortService,
} from "@simplewebauthn/browser";
import { signIn } from "next-auth/react";
import type { PasskeyView } from "./passkeys";

/** The browser's side of passkeys and account settings (lib/auth/passkeys.ts has the server's). */

const send = (method: string, body?: unknown): RequestInit => ({
  method,
  headers: body === undefined ? {} : { "content-type": "application/json" },
  body: body === undefined ? undefined : JSON.stringify(body),
});

export { browserSupportsWebAuthn };

export async function fetchPasskeys(): Promise<PasskeyView[]> {
  return (await readJson<{ passkeys: PasskeyView[] }>(await fetch("/api/passkeys"))).passkeys;
}

/** `Add passkey`: the device makes a passkey (after its fingerprint, face or PIN). */
export async function addPasskey(name?: string): Promise<PasskeyView> {
  const { options } = await readJson<{
    options: Parameters<typeof startRegistration>[0]["optionsJSON"];
  }>(await fetch("/api/passkeys/options", send("POST")));
  let response;
  try {
    response = await startRegistration({ optionsJSON: options });
  } catch (err) {
    throw new Error(ceremonyError(err, "No passkey was added"));
  }
  const { passkey } = await readJson<{ passkey: PasskeyView }>(
    await fetch("/api/passkeys", send("POST", { response, name })),
  );
  return passkey;
}

export async function renamePasskey(id: string, name: string): Promise<void> {
  await readJson(await fetch(`/api/passkeys/${encodeURIComponent(id)}`, send("PATCH", { name })));
}

export async function removePasskey(id: string): Promise<void> {
  await readJson(await fetch(`/api/passkeys/${encodeURIComponent(id)}`, send("DELETE")));
}

/**
 * Signs in with a passkey: the button (`autofill` false: the browser's own chooser) or the
 * email field's autofill (`autofill` true: conditional mediation, which waits until the
 * person picks a passkey from the field's suggestions). True once signed in; false when the
 * autofill is not supported or was superseded by another ceremony.
 */
export async function signInWithPasskey(autofill: boolean): Promise<boolean> {
  if (autofill && !(await browserSupportsWebAuthnAutofill())) return false;
  const { options } = await readJson<{
    options: Parameters<typeof startAuthentication>[0]["optionsJSON"];
  }>(await fetch("/api/passkeys/signin-options", send("POST")));
  let response;
  try {
    response = await startAuthentication({ optionsJSON: options, useBrowserAutofill: autofill });
  } catch (err) {
    if (autofill) return false;
    throw new Error(ceremonyError(err, "Signing in with a passkey was cancelled"));
  }
  const result = await signIn("passkey", { response: JSON.stringify(response), redirect: false });
  if (result?.status === 429 && result.error) throw new Error(result.error);
  if (!result || result.error || !result.ok) throw new Error("That passkey was not accepted");
  return true;
}

/** Stops a pending autofill ceremony (the page is leaving, or another way in was chosen). */
export function cancelPasskeyCeremony(): void {
  WebAuthnAbortService.cancelCeremony();
}

function ceremonyError(err: unknown, fallback: string): string {
  const name = err instanceof Error ? err.name : "";
  if (name === "NotAllowedError" || name === "AbortError") return fallback;
  if (name === "InvalidStateError") return "This device already has a passkey for your account";
  return err instanceof Error && err.message ? err.message : fallback;
}

/** Guest → account with an email and password; the guest's rooms and history stay. */
export async function upgradeGuest(input: { email: string; password: string }): Promise<void> {
  await readJson(await fetch("/api/account/upgrade", send("POST", input)));
}

/** Changes the password; every other session ends, this one is re-issued and goes on. */
export async function changePassword(input: {
  currentPassword: string;
  newPassword: string;
}): Promise<void> {
  await readJson(await fetch("/api/account/password", send("POST", input)));
}

/** Deletes the account (docs/architecture.md, "Deleting an account", says what goes). */
export async function deleteAccount(input: { password?: string }): Promise<void> {
  await readJson(await fetch("/api/account/delete", send("POST", input)));
}
