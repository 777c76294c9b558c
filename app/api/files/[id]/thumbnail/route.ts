import { getSessionUser } from "@/lib/auth/session";
import { failureResponse, serveFile } from "@/lib/files/http/download";
import { files } from "@/lib/files/service";

/** GET/HEAD /api/files/<id>/thumbnail: an image's WebP preview, for members of its room. */
async function thumbnail(req: Request, context: { params: Promise<{ id: string }> }) {
  try {
    const { id } = await context.params;
    return await serveFile(files(), await getSessionUser(), id, "thumbnail", {
      method: req.method,
      headers: req.headers,
      forceDownload: false,
    });
  } catch (err) {
    return failureResponse(err);
  }
}

export const GET = thumbnail;
export const HEAD = thumbnail;
