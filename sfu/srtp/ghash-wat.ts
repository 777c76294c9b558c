/**
 * Generates the WebAssembly text of the GHASH/CTR core used by `aes-gcm.ts` and, when run,
 * assembles it with wabt's `wat2wasm` (Debian package `wabt`, 1.0.32 in Debian 12; not an
 * npm dependency) into `ghash-wasm.ts`, with the SHA-256 of the text it assembled. Only
 * needed when this file changes:
 *   apt-get install wabt
 *   node --import ./scripts/node-hooks.mjs --import tsx sfu/srtp/ghash-wat.ts
 * sfu/test/srtp.test.ts fails while the committed module was built from another text.
 *
 * Why WebAssembly: GHASH is 32 table lookups per block; in JavaScript each typed-array load
 * carries a bounds check and 32-bit quarters, in WebAssembly it is one unchecked 128-bit
 * load and XOR (SIMD: 2.3 µs to seal 1,100 bytes under 50 keys against 3.3 with two i64
 * loads and XORs, `npm run bench:srtp`; V8 needs SSE4.1 for it on x86-64, which every
 * x86-64-v2 machine has, or NEON on ARM64).
 *
 * Byte order trick: the state Y, the table entries and the data are all kept as the byte
 * strings GCM defines, loaded little-endian. XOR is bytewise, so no byte swapping is
 * needed; byte i of Y is `(quarter >> 8·(i mod 4)) & 255` of its 32-bit quarter.
 *
 * Memory: one 8 KiB table per hash key (32 nibble positions × 16 values × 16 bytes, see
 * ghash.ts) where the caller chooses; the caller places packet, keystream and a 16-byte
 * scratch block.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

function mulBlock(): string {
  // Y's four 32-bit quarters (bytes 0–3, 4–7, 8–11, 12–15, each little-endian), so every
  // index is two i32 operations: the nibble, already times 16, is (quarter >> s) & 0xf0.
  const lines: string[] = [
    "(local.set $q0 (i32.wrap_i64 (local.get $a)))",
    "(local.set $q1 (i32.wrap_i64 (i64.shr_u (local.get $a) (i64.const 32))))",
    "(local.set $q2 (i32.wrap_i64 (local.get $b)))",
    "(local.set $q3 (i32.wrap_i64 (i64.shr_u (local.get $b) (i64.const 32))))",
    "(local.set $z (v128.const i64x2 0 0))",
  ];
  for (let byte = 0; byte < 16; byte++) {
    const quarter = `$q${byte >> 2}`;
    const shift = (byte % 4) * 8;
    // High nibble of the byte is position 2·byte, low nibble 2·byte + 1; 256 bytes per position.
    for (const [position, nibbleShift] of [
      [2 * byte, shift + 4],
      [2 * byte + 1, shift],
    ] as const) {
      const times16 =
        nibbleShift >= 4
          ? `(i32.shr_u (local.get ${quarter}) (i32.const ${nibbleShift - 4}))`
          : `(i32.shl (local.get ${quarter}) (i32.const 4))`;
      lines.push(
        `(local.set $z (v128.xor (local.get $z) (v128.load offset=${position << 8} (i32.add (local.get $table) (i32.and ${times16} (i32.const 0xf0))))))`,
      );
    }
  }
  lines.push(
    "(global.set $y0 (i64x2.extract_lane 0 (local.get $z))) (global.set $y1 (i64x2.extract_lane 1 (local.get $z)))",
  );
  return lines.join("\n      ");
}

export const WAT = `(module
  (memory (export "memory") 2)
  (global $y0 (mut i64) (i64.const 0))
  (global $y1 (mut i64) (i64.const 0))

  ;; Y = (Y xor block) * H for the 16 bytes at $p.
  (func $block (param $table i32) (param $p i32)
    (local $a i64) (local $b i64) (local $q0 i32) (local $q1 i32) (local $q2 i32) (local $q3 i32) (local $z v128)
    (local.set $a (i64.xor (global.get $y0) (i64.load (local.get $p))))
    (local.set $b (i64.xor (global.get $y1) (i64.load offset=8 (local.get $p))))
      ${mulBlock()})

  ;; Absorbs $len bytes at $p, the last block zero-padded through the scratch block $tmp.
  (func $absorb (param $table i32) (param $p i32) (param $len i32) (param $tmp i32)
    (local $end i32) (local $rest i32)
    (local.set $end (i32.add (local.get $p) (i32.and (local.get $len) (i32.const -16))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (call $block (local.get $table) (local.get $p))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $next)))
    (local.set $rest (i32.and (local.get $len) (i32.const 15)))
    (if (local.get $rest) (then
      (i64.store (local.get $tmp) (i64.const 0))
      (i64.store offset=8 (local.get $tmp) (i64.const 0))
      (memory.copy (local.get $tmp) (local.get $p) (local.get $rest))
      (call $block (local.get $table) (local.get $tmp)))))

  (func $bswap (param $x i64) (result i64)
    (local.set $x (i64.or (i64.shl (i64.and (local.get $x) (i64.const 0x00ff00ff00ff00ff)) (i64.const 8))
                          (i64.and (i64.shr_u (local.get $x) (i64.const 8)) (i64.const 0x00ff00ff00ff00ff))))
    (local.set $x (i64.or (i64.shl (i64.and (local.get $x) (i64.const 0x0000ffff0000ffff)) (i64.const 16))
                          (i64.and (i64.shr_u (local.get $x) (i64.const 16)) (i64.const 0x0000ffff0000ffff))))
    (i64.rotl (local.get $x) (i64.const 32)))

  ;; XORs $len bytes at $p with the keystream at $ks (may touch up to 7 bytes past $len).
  (func $xor (param $p i32) (param $ks i32) (param $len i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $p) (local.get $len)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (i64.store (local.get $p) (i64.xor (i64.load (local.get $p)) (i64.load (local.get $ks))))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (local.set $ks (i32.add (local.get $ks) (i32.const 8)))
      (br $next))))

  ;; GHASH over header and payload at $pkt, then the length block; Y is left in the globals.
  (func $hash (param $table i32) (param $pkt i32) (param $hlen i32) (param $plen i32) (param $tmp i32)
    (global.set $y0 (i64.const 0)) (global.set $y1 (i64.const 0))
    (call $absorb (local.get $table) (local.get $pkt) (local.get $hlen) (local.get $tmp))
    (call $absorb (local.get $table) (i32.add (local.get $pkt) (local.get $hlen)) (local.get $plen) (local.get $tmp))
    (i64.store (local.get $tmp) (call $bswap (i64.shl (i64.extend_i32_u (local.get $hlen)) (i64.const 3))))
    (i64.store offset=8 (local.get $tmp) (call $bswap (i64.shl (i64.extend_i32_u (local.get $plen)) (i64.const 3))))
    (call $block (local.get $table) (local.get $tmp)))

  ;; Encrypts the payload in place with keystream $ks (E(J0) first) and writes the tag after it.
  (func (export "seal") (param $table i32) (param $pkt i32) (param $hlen i32) (param $plen i32) (param $ks i32) (param $tmp i32)
    (local $tag i32)
    (call $xor (i32.add (local.get $pkt) (local.get $hlen)) (i32.add (local.get $ks) (i32.const 16)) (local.get $plen))
    (call $hash (local.get $table) (local.get $pkt) (local.get $hlen) (local.get $plen) (local.get $tmp))
    (local.set $tag (i32.add (local.get $pkt) (i32.add (local.get $hlen) (local.get $plen))))
    (i64.store (local.get $tag) (i64.xor (global.get $y0) (i64.load (local.get $ks))))
    (i64.store offset=8 (local.get $tag) (i64.xor (global.get $y1) (i64.load offset=8 (local.get $ks)))))

  ;; Checks the tag after the payload; when it matches decrypts in place and returns 1.
  (func (export "open") (param $table i32) (param $pkt i32) (param $hlen i32) (param $plen i32) (param $ks i32) (param $tmp i32) (result i32)
    (local $tag i32)
    (call $hash (local.get $table) (local.get $pkt) (local.get $hlen) (local.get $plen) (local.get $tmp))
    (local.set $tag (i32.add (local.get $pkt) (i32.add (local.get $hlen) (local.get $plen))))
    (if (i64.ne (i64.or
          (i64.xor (i64.xor (global.get $y0) (i64.load (local.get $ks))) (i64.load (local.get $tag)))
          (i64.xor (i64.xor (global.get $y1) (i64.load offset=8 (local.get $ks))) (i64.load offset=8 (local.get $tag))))
        (i64.const 0))
      (then (return (i32.const 0))))
    (call $xor (i32.add (local.get $pkt) (local.get $hlen)) (i32.add (local.get $ks) (i32.const 16)) (local.get $plen))
    (i32.const 1))
)
`;

/** What ghash-wasm.ts records, and sfu/test/srtp.test.ts compares with the text as it is. */
export function watSha256(): string {
  return createHash("sha256").update(WAT).digest("hex");
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const dir = mkdtempSync(path.join(tmpdir(), "ghash-"));
  writeFileSync(path.join(dir, "ghash.wat"), WAT);
  execFileSync("wat2wasm", ["-o", path.join(dir, "ghash.wasm"), path.join(dir, "ghash.wat")]);
  const base64 = readFileSync(path.join(dir, "ghash.wasm")).toString("base64");
  const target = path.join(import.meta.dirname, "ghash-wasm.ts");
  writeFileSync(
    target,
    `/** Generated by ghash-wat.ts (wat2wasm); do not edit. The WebAssembly GHASH/CTR core. */\nexport const GHASH_WASM =\n  "${base64}";\n/** SHA-256 of the WAT text (ghash-wat.ts) it was assembled from. */\nexport const GHASH_WAT_SHA256 = "${watSha256()}";\n`,
  );
  console.info(`wrote ${target} (${base64.length} base64 chars)`);
}
