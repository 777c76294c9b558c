import { notFound } from "@/lib/errors";
import { doRemoveUnsentFile } from "@/lib/files/lifecycle";
import { attachmentIdSchema } from "@/lib/files/schemas";
import { files } from "@/lib/files/service";
import { route } from "@/lib/server/route";

// GET/HEAD /api/files/<id> (the file itself) never reach Next: server.ts's files feature
// answers them on plain Node, streaming from the transfer worker (sendFile in
// lib/files/http/download.ts).

/** DELETE /api/files/<id>: the uploader takes back a file not yet sent in a message. */
export const DELETE = route<{ id: string }>({}, async ({ user, params }) => {
  if (!attachmentIdSchema.safeParse(params.id).success)
    throw notFound("There is no such unsent file");
  await doRemoveUnsentFile(files(), user, params.id);
  return new Response(null, { status: 204 });
});
