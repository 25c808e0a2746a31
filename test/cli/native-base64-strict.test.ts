/**
 * The client's native base64 decoder (scripts/cli/native-ed25519.ts) checks canonical form from
 * lengths and character classes instead of re-encoding. Node's decoder reads characters the
 * standard alphabet does not have ("-", "_", and any code unit above U+00FF by its low byte), so
 * these tests put every UTF-16 code unit in every kind of position, and mix aliasing characters
 * into random text: the answer must always be the Web-standard decoder's.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { nodeBase64 } from "../../scripts/cli/native-ed25519.js";
import { fromBase64Web } from "../../src/core/index.js";

describe("native base64 against every character", () => {
  // Data characters, the last data character (with unused bits), and both padding characters.
  const canonical = ["QUJD", "QUI=", "QQ=="];

  it.each(canonical)("replacing any one character of %j with any code unit", (text) => {
    for (let at = 0; at < text.length; at++) {
      for (let code = 0; code <= 0xffff; code++) {
        const candidate = text.slice(0, at) + String.fromCharCode(code) + text.slice(at + 1);
        const native = nodeBase64(candidate);
        const web = fromBase64Web(candidate);
        if ((native === undefined) !== (web === undefined) || (native && web && Buffer.compare(native, web) !== 0)) {
          expect({ candidate, native, web }).toEqual({ candidate, native: web, web });
        }
      }
    }
  });

  it("on text mixing the alphabet with characters Node reads as other characters", () => {
    // "Ł" (U+0141) reads as "A", "ſ" (U+017F) and "Ā" (U+0100) as nothing, "-" and "_" as "+" and "/".
    const text = fc.array(fc.constantFrom(..."AQgw+/=\u0141\u017f\u0100-_é\u{1f600}"), { maxLength: 16 }).map((chars) => chars.join(""));
    fc.assert(
      fc.property(text, (candidate) => {
        expect(nodeBase64(candidate)).toEqual(fromBase64Web(candidate));
      }),
      { numRuns: 50_000 },
    );
  });

  it.each([5_000, 20_000])("decodes %i bytes exactly, in the pool and beside it", (length) => {
    const bytes = Uint8Array.from({ length }, (_, i) => (i * 7919) & 0xff);
    const text = Buffer.from(bytes).toString("base64");
    expect(nodeBase64(text)).toEqual(bytes);
    expect(nodeBase64(`${text.slice(0, 100)}\u0141${text.slice(101)}`)).toBeUndefined();
    expect(nodeBase64(`${text.slice(0, -4)}-_-_`)).toBeUndefined();
  });

  it("hands out regions that later decodings do not overwrite", () => {
    const texts = Array.from({ length: 3_000 }, (_, i) => Buffer.alloc(1 + (i % 200), i % 251).toString("base64"));
    const decoded = texts.map((text) => nodeBase64(text)!);
    decoded.forEach((bytes, i) => expect(bytes).toEqual(new Uint8Array(1 + (i % 200)).fill(i % 251)));
  });
});
