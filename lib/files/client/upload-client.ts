import * as tus from "tus-js-client";
import { type AttachmentView, filesErrorSchema, uploadResultSchema } from "../schemas";
import { randomId } from "@/lib/random-id";

/**
 * One file's upload from the browser, framework-free (components/files wraps it in React).
 * tus-js-client sends it to the resumable endpoint and, when the connection drops, asks the
 * server how far it got and continues from there. The attachment id is the upload's id,
 * known as soon as the upload exists.
 */

/** Mirrors lib/files/http/upload-endpoint.ts (server-only, so not imported here). */
const UPLOADS_PATH = "/api/files/uploads";
/** Waits between attempts after a dropped connection; then the upload fails. */
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10_000, 20_000];

export type UploadState =
  | { status: "uploading"; sent: number; total: number }
  | { status: "done"; attachment: AttachmentView }
  | { status: "failed"; message: string }
  | { status: "cancelled" };

export class FileUpload {
  /** Local identity of this upload (React keys, cancel). */
  readonly key = randomId();
  readonly done: Promise<AttachmentView>;
  private state: UploadState;
  private readonly upload: tus.Upload;
  private settle!: { resolve(a: AttachmentView): void; reject(e: Error): void };

  constructor(
    readonly file: File,
    readonly roomId: string,
    private readonly onChange: (state: UploadState) => void,
  ) {
    this.state = { status: "uploading", sent: 0, total: file.size };
    this.done = new Promise<AttachmentView>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // Nobody needs to handle a cancelled upload's rejection.
    this.done.catch(() => undefined);
    this.upload = new tus.Upload(file, {
      endpoint: new URL(UPLOADS_PATH, window.location.origin).href,
      // The server sniffs the real type; the name is cleaned there too.
      metadata: { roomId, name: file.name || "file" },
      retryDelays: RETRY_DELAYS,
      // The whole file in one PATCH (tus-js-client's default, stated here on purpose): the
      // browser streams the File from disk, and the server keeps every byte that arrived,
      // so a dropped connection resumes from the last byte received, not from a chunk
      // boundary. Chunks would only add a round trip and a request each.
      chunkSize: Infinity,
      // Resuming is within this page's life; a reload starts over.
      storeFingerprintForResuming: false,
      onProgress: (sent, total) => this.set({ status: "uploading", sent, total }),
      onSuccess: ({ lastResponse }) => void this.finish(lastResponse.getBody()),
      onError: (err) => this.fail(describeError(err)),
    });
  }

  get current(): UploadState {
    return this.state;
  }

  start(): void {
    if (this.file.size === 0) {
      this.fail("The file is empty");
      return;
    }
    this.upload.start();
  }

  /** Stops the upload and removes whatever the server kept of it. */
  async cancel(): Promise<void> {
    const previous = this.state;
    this.set({ status: "cancelled" });
    this.settle.reject(new Error("cancelled"));
    if (previous.status === "uploading") {
      await this.upload.abort(true).catch(() => undefined);
    } else if (previous.status === "done") {
      // Finished but not sent: take it back so it is not kept until the expiry sweep.
      await fetch(`/api/files/${previous.attachment.id}`, { method: "DELETE" }).catch(
        () => undefined,
      );
    }
  }

  private async finish(body: string): Promise<void> {
    try {
      const parsed = uploadResultSchema.safeParse(safeJson(body));
      // A resumed upload that was already complete gets no body: ask for the attachment.
      const attachment = parsed.success ? parsed.data.attachment : await this.complete();
      if (this.state.status === "cancelled") return;
      this.set({ status: "done", attachment });
      this.settle.resolve(attachment);
    } catch (err) {
      this.fail((err as Error).message);
    }
  }

  private async complete(): Promise<AttachmentView> {
    const res = await fetch(`${this.upload.url}/complete`, { method: "POST" });
    const json = safeJson(await res.text());
    const ok = uploadResultSchema.safeParse(json);
    if (res.ok && ok.success) return ok.data.attachment;
    throw new Error(errorMessage(json) ?? "The upload could not be finished");
  }

  private fail(message: string): void {
    if (this.state.status === "cancelled") return;
    this.set({ status: "failed", message });
    this.settle.reject(new Error(message));
  }

  private set(state: UploadState): void {
    if (this.state.status === "cancelled") return;
    this.state = state;
    this.onChange(state);
  }
}

function describeError(err: Error): string {
  const response = (err as tus.DetailedError).originalResponse;
  if (!response) return "The connection was lost; the upload could not finish";
  return (
    errorMessage(safeJson(response.getBody())) ?? `The upload failed (${response.getStatus()})`
  );
}

function errorMessage(json: unknown): string | null {
  const parsed = filesErrorSchema.safeParse(json);
  return parsed.success ? parsed.data.error.message : null;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
