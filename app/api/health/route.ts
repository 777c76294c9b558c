import { NextResponse } from "next/server";
import { hasRuntime, runtime } from "@/lib/server/runtime";

export const dynamic = "force-dynamic";

/** 200 once the app, its database and every feature (the SFU among them) are ready. */
export async function GET() {
  if (!hasRuntime()) return NextResponse.json({ ok: false, checks: {} }, { status: 503 });
  const { database, readiness } = runtime();
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
    { ok, database: database.kind, checks },
    { status: ok ? 200 : 503, headers: { "Cache-Control": "no-store" } },
  );
}
