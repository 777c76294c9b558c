import type { Metadata } from "next";
import { SettingsView } from "@/components/settings/SettingsView";
import { requirePageUser } from "@/lib/auth/session";

export const metadata: Metadata = { title: "Settings" };
export const dynamic = "force-dynamic";

export default async function SettingsPage() {
  const user = await requirePageUser("/settings");
  return <SettingsView user={user} />;
}
