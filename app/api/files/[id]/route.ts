import { getSessionUser } from "@/lib/auth/session";
import { notFound } from "@/lib/errors";
import { failureResponse, serveFile } from "@/lib/files/download";
import { doRemoveUnsentFile } from "@/lib/files/lifecycle";
import { attachmentIdSchema } from "@/lib/files/schemas";
import { files } from "@/lib/files/service";
import { route } from "@/lib/server/route";

/**
 * GET/HEAD /api/files/<id>: the file, for members of its room (lib/files/download.ts).
 * `?download=1` asks for it as an attachment even when it could show inline.
 */
async function download(req: Request, context: { params: Promise<{ id: string }> }) {
  try {
    const { id } = await context.params;
    return await serveFile(files(), await getSessionUser(), id, "file", {
      method: req.method,
      headers: req.headers,
      forceDownload: new URL(req.url).searchParams.get("download") === "1",
    });
  } catch (err) {
    return failureResponse(err);
  }
}

export const GET = download;
export const HEAD = download;

/** DELETE /api/files/<id>: the uploader takes back a file not yet sent in a message. */
export const DELETE = route<{ id: string }>({}, async ({ user, params }) => {
  if (!attachmentIdSchema.safeParse(params.id).success)
    throw notFound("There is no such unsent file");
  await doRemoveUnsentFile(files(), user, params.id);
  return new Response(null, { status: 204 });
});
