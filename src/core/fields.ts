/** @module Schema pieces shared by every signed format (zod/mini, tree-shaken). */

import * as z from "zod/mini";
import { isFingerprint } from "./keys.js";

export const hex = (bytes: number) => z.string().check(z.regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `expected ${bytes * 2} lowercase hex digits`));
export const Fingerprint = z.string().check(z.refine(isFingerprint, "expected a SHA256: fingerprint"));
export const Timestamp = z.iso.datetime({ offset: false, precision: 3, error: "expected an RFC 3339 UTC time with milliseconds" });
export const Size = z.number().check(z.int(), z.nonnegative(), z.lte(Number.MAX_SAFE_INTEGER));
export const ShortText = (max: number) => z.string().check(z.minLength(1), z.maxLength(max), z.regex(/^[^\x00-\x1f\x7f]*$/, "no control characters"));

/** The in-toto subject every statement about an artifact shares: purl + sha256 + sha512. */
export const Subject = z.strictObject({
  name: z.string(),
  digest: z.strictObject({ sha256: hex(32), sha512: hex(64) }),
});

// For the verifier's fast acceptance (statement.ts): Timestamp's answer without zod's per-call
// bookkeeping. zod checks a datetime as `typeof value === "string"` and then this one pattern,
// compiled for Timestamp's options; the fallback only matters if zod stops exposing it.
const TIMESTAMP_PATTERN = Timestamp._zod.def.pattern;

/** What `Timestamp` accepts. */
export function isTimestamp(value: unknown): value is string {
  if (typeof value !== "string") return false;
  return TIMESTAMP_PATTERN ? TIMESTAMP_PATTERN.test(value) : Timestamp.safeParse(value).success;
}
