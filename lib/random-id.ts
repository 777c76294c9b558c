/**
 * A random UUID (version 4) in any browser context. `crypto.randomUUID` exists only in
 * secure contexts (HTTPS, or localhost), and Parley is also opened over plain HTTP on a LAN
 * (issue 11): there chat must still work, so the UUID is built from `getRandomValues`,
 * which every context has.
 */
export function randomId(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // variant 10
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
