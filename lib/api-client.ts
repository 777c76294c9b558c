/**
 * An API answer as the browser reads it: the JSON body of a success, or an Error with the
 * message of the `{ error: { code, message } }` every route answers a failure with
 * (lib/server/route.ts), so what the server said is what the person reads.
 */
export async function readJson<T>(res: Response, fallback = "Request failed"): Promise<T> {
  if (!res.ok) {
    const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new Error(body?.error?.message ?? `${fallback} (${res.status})`);
  }
  return (await res.json()) as T;
}
