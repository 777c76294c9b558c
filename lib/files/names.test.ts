import { describe, expect, it } from "vitest";
import { contentDisposition, FALLBACK_NAME, sanitizeFileName } from "./names";

describe("sanitizeFileName", () => {
  it.each([
    ["report.pdf", "report.pdf"],
    ["  Holiday photo.JPG  ", "Holiday photo.JPG"],
    ["../../etc/passwd", "_._etc_passwd"],
    ["..", FALLBACK_NAME],
    [".", FALLBACK_NAME],
    ["...", FALLBACK_NAME],
    ["", FALLBACK_NAME],
    ["a/b\\c.txt", "a_b_c.txt"],
    ["C:\\Users\\me\\notes.txt", "C__Users_me_notes.txt"],
    [".bashrc", "bashrc"],
    ["name.", "name"],
    ["line\nbreak\r\n.txt", "line break .txt"],
    ["tab\there.txt", "tab here.txt"],
    ["nul\u0000byte.txt", "nulbyte.txt"],
    ["del\u007f\u0085.txt", "del.txt"],
    // Right-to-left override used to fake an extension: "invoice‮fdp.exe" shows as "invoiceexe.pdf".
    ["invoice\u202efdp.exe", "invoicefdp.exe"],
    ["a\u2066b\u2069c\u200e\u200f\u061c.txt", "abc.txt"],
    ['what?<>:"|*.txt', "what_______.txt"],
    ["e\u0301te\u0301.txt", "été.txt"],
    ["😀 party.png", "😀 party.png"],
  ])("%j → %j", (raw, clean) => {
    expect(sanitizeFileName(raw)).toBe(clean);
  });

  it("keeps the extension when cutting a long name", () => {
    const clean = sanitizeFileName(`${"x".repeat(500)}.tar.gz`);
    expect([...clean].length).toBeLessThanOrEqual(200);
    expect(clean.endsWith(".gz")).toBe(true);
  });

  it("never yields a separator, control, bidi character or leading dot", () => {
    const alphabet = ["a", ".", "/", "\\", "\u0000", "\n", "\u202e", "\u2067", " ", "é", ":"];
    for (let i = 0; i < 2000; i++) {
      const raw = Array.from(
        { length: 1 + Math.floor(Math.random() * 12) },
        () => alphabet[Math.floor(Math.random() * alphabet.length)],
      ).join("");
      const clean = sanitizeFileName(raw);
      expect(clean).not.toMatch(/[/\\\u0000-\u001f\u202e\u2067:]/);
      expect(clean).not.toMatch(/^\.|\.\./);
      expect(clean.length).toBeGreaterThan(0);
    }
  });
});

describe("contentDisposition", () => {
  it("offers an ASCII fallback and the exact UTF-8 name", () => {
    expect(contentDisposition("attachment", 'rapport "final" été.pdf')).toBe(
      `attachment; filename="rapport _final_ _t_.pdf"; filename*=UTF-8''rapport%20%22final%22%20%C3%A9t%C3%A9.pdf`,
    );
  });
});
