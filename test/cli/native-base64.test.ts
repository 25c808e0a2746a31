/**
 * The client's native base64 decoder (scripts/cli/native-ed25519.ts) must accept and refuse
 * exactly what the core's Web-standard decoder does: canonical padded base64 only.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nodeBase64 } from "../../scripts/cli/native-ed25519.js";
import { fromBase64Web, toBase64 } from "../../src/core/index.js";

function same(text: string): void {
  expect(nodeBase64(text)).toEqual(fromBase64Web(text));
}

describe("native base64 agrees with the strict Web decoder", () => {
  it("on every encoding of random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => same(toBase64(bytes))), { numRuns: 2_000 });
  });

  it("on strings near base64: whitespace, padding, trailing bits, foreign characters", () => {
    const text = fc.array(fc.constantFrom(..."ABCQRSTabcz019+/=-_ \t\n\r\f%é"), { maxLength: 24 }).map((chars) => chars.join(""));
    fc.assert(fc.property(text, same), { numRuns: 20_000 });
  });

  it.each(["QQ", "QR==", "Q Q==", "QQ==\n", "QQ=", "Q===", "QQ==QQ==", "-_8=", "QQ%3D", "QUJ DRA="])("refuses %j", (text) => {
    expect(nodeBase64(text)).toBeUndefined();
    expect(fromBase64Web(text)).toBeUndefined();
  });
});
