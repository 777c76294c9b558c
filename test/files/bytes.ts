import { expect } from "vitest";

/**
 * Asserts two byte sequences are identical. toEqual compares a Buffer element by element
 * through generic equality, which takes seconds for megabytes; this is one memcmp.
 */
export function expectSameBytes(actual: Uint8Array | ArrayBuffer, expected: Uint8Array): void {
  const a = actual instanceof ArrayBuffer ? Buffer.from(actual) : asBuffer(actual);
  const b = asBuffer(expected);
  expect(a.length, "length").toBe(b.length);
  if (Buffer.compare(a, b) === 0) return;
  const at = a.findIndex((byte, i) => byte !== b[i]);
  expect.fail(`the bytes differ, first at byte ${at}`);
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
