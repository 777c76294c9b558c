import * as tus from "tus-js-client";
import type { SessionUser } from "@/lib/auth/schemas";
import { UPLOADS_PATH } from "@/lib/files/http/upload-endpoint";
import { type AttachmentView, uploadResultSchema } from "@/lib/files/schemas";
import type { FilesHarness } from "./harness";

/** An upload that failed: the status and the `{ error }` body the server sent. */
export class UploadRefused extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upload refused with ${status}: ${body}`);
  }
}

/** Uploads `content` with tus-js-client, as the browser does; resolves with the attachment. */
export function uploadFile(
  harness: FilesHarness,
  user: SessionUser,
  roomId: string,
  content: Buffer,
  name: string,
  options: Partial<tus.UploadOptions> & { extraMetadata?: Record<string, string> } = {},
): Promise<{ attachment: AttachmentView; uploadUrl: string }> {
  const cookie = harness.cookie(user);
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(content, {
      endpoint: `${harness.url}${UPLOADS_PATH}`,
      metadata: { roomId, name, filetype: "image/png", ...options.extraMetadata },
      headers: { cookie },
      retryDelays: [],
      storeFingerprintForResuming: false,
      ...options,
      onSuccess: ({ lastResponse }) => {
        try {
          const { attachment } = uploadResultSchema.parse(JSON.parse(lastResponse.getBody()));
          resolve({ attachment, uploadUrl: upload.url ?? "" });
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      },
      onError: (err) => {
        const response = (err as tus.DetailedError).originalResponse;
        reject(response ? new UploadRefused(response.getStatus(), response.getBody()) : err);
      },
    });
    upload.start();
  });
}

/** A raw tus request, for what tus-js-client would never send. */
export function tusRequest(
  harness: FilesHarness,
  user: SessionUser | null,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: BodyInit,
): Promise<Response> {
  return fetch(`${harness.url}${path}`, {
    method,
    headers: {
      "Tus-Resumable": "1.0.0",
      ...(user ? { cookie: harness.cookie(user) } : {}),
      ...headers,
    },
    body,
    ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
  } as RequestInit);
}

/** tus Upload-Metadata: comma-separated `key base64(value)`. */
export function tusMetadata(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString("base64")}`)
    .join(",");
}

export function download(
  harness: FilesHarness,
  user: SessionUser | null,
  path: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${harness.url}${path}`, {
    headers: { ...(user ? { cookie: harness.cookie(user) } : {}), ...headers },
  });
}
