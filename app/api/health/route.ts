import { NextResponse } from "next/server";
import { hasRuntime, runtime } from "@/lib/server/runtime";

export const dynamic = "force-dynamic";

/**
 * 200 once the app, its database and every feature (the SFU among them) are ready, and
 * with HTTPS once a certificate serves. `tls` tells which certificate that is, when it
 * expires and when it renews, and why the last renewal failed if it did.
 */
export async function GET() {
  if (!hasRuntime()) return NextResponse.json({ ok: false, checks: {} }, { status: 503 });
  const { database, readiness, services } = runtime();
  const checks: Record<string, boolean> = {};
  checks.database = await database.ping().then(
    () => true,
    () => false,
  );
  for (const [name, check] of readiness) {
    checks[name] = await Promise.resolve()
      .then(check)
      .catch(() => false);
  }
  const ok = Object.values(checks).every(Boolean);
  return NextResponse.json(
    { ok, database: database.kind, checks, tls: services.tls?.() ?? null },
    { status: ok ? 200 : 503, headers: { "Cache-Control": "no-store" } },
  );
}
