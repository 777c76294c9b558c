import { mkdir } from "node:fs/promises";
import { eq, sum } from "drizzle-orm";
import { attachments } from "@/lib/db/schema";
import { archiveName, personalExport } from "@/lib/export/archive";
import { exportDeps, tarResponse } from "@/lib/export/http";
import { route } from "@/lib/server/route";

/** `Export my data`: your profile, rooms, messages and files as one streamed tar. */
export const GET = route({}, async ({ user }) => {
  const deps = exportDeps();
  await mkdir(deps.tmpDir, { recursive: true, mode: 0o700 });
  const [total] = await deps.db
    .select({ bytes: sum(attachments.size) })
    .from(attachments)
    .where(eq(attachments.uploaderId, user.id));
  return tarResponse(
    personalExport(deps, user.id),
    archiveName("personal"),
    Number(total?.bytes ?? 0),
  );
});
