/**
 * The verifier's hot path replaces general checks with cheaper ones (bench/README.md,
 * `bench:verify`). Each must give exactly the answer of the check it stands for, which these
 * properties hold it to: the reference is the general check itself (zod, semver, a regular
 * expression) or the code it replaced.
 */
import fc from "fast-check";
import semverValid from "semver/functions/valid.js";
import { describe, expect, it } from "vitest";
import { Timestamp, isTimestamp } from "../../src/core/fields.js";
import { checkPackageName, checkVersion, isFingerprint, isLowerHex, newBytes, pae, purl, utf8 } from "../../src/core/index.js";

/** Strings made of `alphabet`, which should hold the characters the check cares about. */
const textOf = (alphabet: string, maxLength: number) => fc.array(fc.constantFrom(...alphabet), { maxLength }).map((chars) => chars.join(""));

describe("checkVersion's plain-release fast path", () => {
  const semverAnswer = (v: string) => v.length > 0 && v.length <= 256 && semverValid(v) === v;

  it("agrees with semver on strings near versions", () => {
    fc.assert(
      fc.property(textOf("0123456789..-+abv ", 24), (v) => {
        expect(checkVersion(v).ok).toBe(semverAnswer(v));
      }),
      { numRuns: 20_000 },
    );
  });

  it("agrees with semver on long numeric parts (the safe-integer bound)", () => {
    const part = fc.oneof(fc.constantFrom("0", "00", "01"), fc.bigInt({ min: 0n, max: 10n ** 18n }).map(String));
    fc.assert(
      fc.property(part, part, part, (a, b, c) => {
        const v = `${a}.${b}.${c}`;
        expect(checkVersion(v).ok).toBe(semverAnswer(v));
      }),
      { numRuns: 5_000 },
    );
  });

  it.each(["999999999999999.0.0", "0.0.999999999999999", "9007199254740991.0.0"])("accepts %s", (v) => expect(checkVersion(v).ok).toBe(true));
  it.each(["9007199254740992.0.0", "01.0.0", "1.0.0\n", "1.0.0 ", "1.0", "1.0.0.0"])("rejects %j", (v) => expect(checkVersion(v).ok).toBe(false));
});

describe("checkPackageName without captures", () => {
  // The implementation before the fast path, as the reference for every answer and reason.
  const PART = "[a-z0-9][a-z0-9._-]*";
  const NAME = new RegExp(`^(?:@(${PART})/)?(${PART})$`);
  function reference(name: string) {
    if (name.length === 0) return { ok: false, reason: "package name is empty" };
    if (name.length > 214) return { ok: false, reason: "package name is longer than 214 characters" };
    if (/[^\x21-\x7e]/.test(name)) return { ok: false, reason: "package name may contain only printable ASCII (no spaces, control or non-ASCII characters)" };
    if (name !== name.toLowerCase()) return { ok: false, reason: "package name must be lowercase" };
    const match = NAME.exec(name);
    if (!match) return { ok: false, reason: "package name must be `name` or `@scope/name`, each part made of a-z 0-9 - . _ and starting with a letter or digit" };
    const [, scope, base] = match as unknown as [string, string | undefined, string];
    if (base === "node_modules" || base === "favicon.ico") return { ok: false, reason: `package name "${base}" is reserved` };
    return scope ? { ok: true, name, namespace: `@${scope}`, scope: `@${scope}` } : { ok: true, name, namespace: name };
  }

  it("gives the reference's answer, namespace, scope and reason", () => {
    fc.assert(
      fc.property(textOf("@/ab09._-A \u0130é", 12), (name) => {
        expect(checkPackageName(name)).toEqual(reference(name));
      }),
      { numRuns: 20_000 },
    );
  });

  it.each(["@acme/node_modules", "favicon.ico", "@acme/x", "acme", "@a/b/c", "a".repeat(215)])("%j as the reference", (name) => {
    expect(checkPackageName(name)).toEqual(reference(name));
  });

  it("builds purls as before", () => {
    for (const name of ["@acme/utils", "acme", "a@b"]) expect(purl(name, "1.0.0")).toBe(`pkg:npm/${name.replace(/^@/, "%40")}@1.0.0`);
  });
});

describe("table and length-first checks", () => {
  it("isLowerHex is /^[0-9a-f]{n}$/", () => {
    // \u00b0 and \u0130 have the low 7 bits of "0", \u0161 those of "a": a table lookup must not wrap them round.
    fc.assert(
      fc.property(textOf("0123456789abcdefABCFg \u00b0\u0130\u0161", 10), fc.integer({ min: 0, max: 10 }), (text, digits) => {
        expect(isLowerHex(text, digits)).toBe(new RegExp(`^[0-9a-f]{${digits}}$`).test(text));
      }),
      { numRuns: 20_000 },
    );
    expect(isLowerHex("ab".repeat(64), 128)).toBe(true);
    expect(isLowerHex(12, 2)).toBe(false);
  });

  it("isFingerprint is /^SHA256:[A-Za-z0-9+/]{43}$/", () => {
    const body = textOf("Aa09+/=-_ \u0130", 45);
    fc.assert(
      fc.property(fc.constantFrom("SHA256:", "sha256:", "SHA256", ""), body, (prefix, rest) => {
        const text = prefix + rest;
        expect(isFingerprint(text)).toBe(/^SHA256:[A-Za-z0-9+/]{43}$/.test(text));
      }),
      { numRuns: 20_000 },
    );
    expect(isFingerprint(`SHA256:${"A".repeat(43)}`)).toBe(true);
  });

  it("isTimestamp is Timestamp", () => {
    const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, "0"));
    const near = fc
      .tuple(fc.constantFrom("2024", "2023", "1900", "2000", "0000"), two(13), two(32), two(25), two(61), two(61), fc.constantFrom(".000Z", ".123Z", "Z", ".00Z", ".000+00:00", ".000z", ".000Z\n"))
      .map(([y, mo, d, h, mi, s, tail]) => `${y}-${mo}-${d}T${h}:${mi}:${s}${tail}`);
    fc.assert(
      fc.property(fc.oneof(near, fc.string(), fc.constant(42)), (value) => {
        expect(isTimestamp(value)).toBe(Timestamp.safeParse(value).success);
      }),
      { numRuns: 20_000 },
    );
    expect(isTimestamp("2024-02-29T23:59:59.999Z")).toBe(true);
    expect(isTimestamp("2023-02-29T00:00:00.000Z")).toBe(false);
  });
});

describe("pae from a cached prefix into shared slabs", () => {
  const reference = (payloadType: string, payload: Uint8Array) => {
    const head = utf8(`DSSEv1 ${utf8(payloadType).length} ${payloadType} ${payload.length} `);
    return Uint8Array.from([...head, ...payload]);
  };

  it("gives the reference encoding, whatever the type and length", () => {
    const type = fc.oneof(fc.constant("application/vnd.in-toto+json"), fc.string({ maxLength: 20 }), fc.string({ unit: "grapheme", maxLength: 8 }));
    fc.assert(
      fc.property(type, fc.uint8Array({ maxLength: 300 }), (payloadType, payload) => {
        expect(pae(payloadType, payload)).toEqual(reference(payloadType, payload));
      }),
      { numRuns: 2_000 },
    );
    const large = new Uint8Array(100_000).fill(7);
    expect(pae("t", large)).toEqual(reference("t", large));
  });

  it("hands out zeroed regions that no other result shares", () => {
    const regions = Array.from({ length: 2_000 }, (_, i) => newBytes(1 + (i % 700)));
    for (const region of regions) expect(region.every((byte) => byte === 0)).toBe(true);
    regions.forEach((region, i) => region.fill(i % 251));
    regions.forEach((region, i) => expect(region.every((byte) => byte === i % 251)).toBe(true));
  });
});
