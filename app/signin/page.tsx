import type { Metadata } from "next";
import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { SignInForm } from "@/components/auth/SignInForm";
import { safeReturnPath } from "@/lib/auth/redirect";
import { getSessionUser } from "@/lib/auth/session";

export const metadata: Metadata = { title: "Sign in" };

export default async function SignInPage({
  searchParams,
}: {
  searchParams: Promise<{ callbackUrl?: string }>;
}) {
  const { callbackUrl } = await searchParams;
  const returnTo = safeReturnPath(callbackUrl, (await headers()).get("host"));
  if (await getSessionUser()) redirect(returnTo);
  const joiningRoom = returnTo.startsWith("/r/");
  return <SignInForm returnTo={returnTo} joiningRoom={joiningRoom} />;
}
