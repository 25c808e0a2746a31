import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromBase64, fromHex, hexFromSri, sriFromHex, toBase64, toHex } from "../../src/core/index.js";

describe("strict encodings", () => {
  it("base64 and hex round-trip", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        expect(fromBase64(toBase64(bytes))).toEqual(bytes);
        expect(fromHex(toHex(bytes))).toEqual(bytes);
      }),
    );
  });

  it("base64: whatever decodes is the one canonical encoding of its bytes (no whitespace, padding or trailing-bit variants)", () => {
    const text = fc.array(fc.constantFrom(..."ABCQRSTabcz019+/= \t\n\r\f"), { maxLength: 24 }).map((chars) => chars.join(""));
    fc.assert(
      fc.property(text, (candidate) => {
        const bytes = fromBase64(candidate);
        if (bytes !== undefined) expect(toBase64(bytes)).toBe(candidate);
      }),
      { numRuns: 20_000 },
    );
  });

  it.each(["QQ", "QR==", "Q Q==", "QUJ DRA=", "QUJD\nRA=", "QQ==\n", "QQ=", "Q===", "QQ==QQ==", "-_8=", "QQ%3D"])("base64 %j is refused", (text) => {
    expect(fromBase64(text)).toBeUndefined();
  });

  it.each(["A0", "0", "zz", "0x00"])("hex %j is refused", (text) => {
    expect(fromHex(text)).toBeUndefined();
  });

  it("reads the sha512 out of npm integrity strings", () => {
    const hex = "ab".repeat(64);
    const sri = sriFromHex("sha512", hex);
    expect(hexFromSri(sri, "sha512")).toBe(hex);
    expect(hexFromSri(`sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA= ${sri}`, "sha512")).toBe(hex);
    expect(hexFromSri("sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "sha512")).toBeUndefined();
    expect(hexFromSri("sha512-short", "sha512")).toBeUndefined();
  });
});
