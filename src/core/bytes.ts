/**
 * @module
 * Byte helpers shared by every format: UTF-8, strict base64 and hex, comparison.
 *
 * Only Web-standard globals are used (`TextEncoder`, `atob`, `btoa`), so the same code runs in
 * workerd, Node and browsers. Decoders are strict: a string that does not round-trip to the same
 * text is rejected, so one byte sequence has exactly one accepted encoding.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decodes UTF-8, throwing `TypeError` on invalid sequences instead of inserting U+FFFD. */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

// atob implements "forgiving base64": it skips ASCII whitespace and accepts missing padding, but
// rejects any other character outside the alphabet and any "=" that is not final padding.
const WHITESPACE = /[\t\n\f\r ]/;

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  // Chunked so large inputs do not overflow the argument limit of String.fromCharCode.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * A host's native base64 decoder (the Node client registers one: payloads are decoded on every
 * verification). It must return the bytes only when `text` is their canonical encoding, as
 * `fromBase64` does, and undefined otherwise; test/core/bytes.test.ts holds both to that.
 */
export type Base64Decoder = (text: string) => Uint8Array | undefined;
let nativeBase64: Base64Decoder | undefined;

export function useNativeBase64(decoder: Base64Decoder | undefined): void {
  nativeBase64 = decoder;
}

/** Standard padded base64 (RFC 4648 §4). Returns `undefined` for anything non-canonical. */
export function fromBase64(text: string): Uint8Array | undefined {
  if (nativeBase64 && typeof text === "string") return nativeBase64(text);
  return fromBase64Web(text);
}

/** fromBase64 with Web-standard globals only. */
export function fromBase64Web(text: string): Uint8Array | undefined {
  // Canonical form: full 4-character groups (so padding is present) and no whitespace; atob
  // enforces the alphabet and where "=" may appear.
  if (typeof text !== "string" || text.length % 4 !== 0 || WHITESPACE.test(text)) return undefined;
  // Unused trailing bits must be zero (RFC 4648 §3.5), so "QQ==" and "QR==" cannot both decode
  // to "A": with two padding characters the last data character carries 4 unused bits, with one, 2.
  const padding = text.endsWith("==") ? 2 : text.endsWith("=") ? 1 : 0;
  if (padding && ALPHABET.indexOf(text[text.length - padding - 1]!) & (padding === 2 ? 0x0f : 0x03)) return undefined;
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return undefined;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Unpadded base64, as OpenSSH prints fingerprints. */
export function toBase64NoPad(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/=+$/, "");
}

export function toBase64Url(bytes: Uint8Array): string {
  return toBase64NoPad(bytes).replace(/\+/g, "-").replace(/\//g, "_");
}

const HEX = /^(?:[0-9a-f]{2})*$/;

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

const IS_LOWER_HEX = new Uint8Array(128);
for (const digit of "0123456789abcdef") IS_LOWER_HEX[digit.charCodeAt(0)] = 1;

/** Exactly `digits` lowercase hex digits (fields.ts `hex(digits / 2)`), as a hot-path check. */
export function isLowerHex(value: unknown, digits: number): value is string {
  if (typeof value !== "string" || value.length !== digits) return false;
  // A table lookup per character: digests are random, so a regular expression's range tests
  // mispredict about every other character and cost half as much again.
  for (let i = 0; i < digits; i++) {
    const code = value.charCodeAt(i);
    if (code > 127 || IS_LOWER_HEX[code] === 0) return false;
  }
  return true;
}

/** Lowercase hex only; returns `undefined` otherwise. */
export function fromHex(text: string): Uint8Array | undefined {
  if (typeof text !== "string" || !HEX.test(text)) return undefined;
  const bytes = new Uint8Array(text.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

// Small arrays are carved from shared slabs, as Node's Buffer pool does: an array of its own costs
// an ArrayBuffer, a backing-store allocation and a sweep by the garbage collector, which at
// thousands of verifications per second weighs more than filling it. A region is handed out once
// and never reused, so a slice stays valid for as long as anyone holds it (and keeps its slab,
// SLAB_BYTES, alive).
const SLAB_BYTES = 64 * 1024;
const MAX_CARVED_BYTES = 4 * 1024;
let slab: Uint8Array = new Uint8Array(0);
let slabUsed = 0;

/**
 * `length` zero bytes, like `new Uint8Array(length)`, except that a small result may share its
 * ArrayBuffer with others: use the view, never its `.buffer` (and do not transfer it).
 */
export function newBytes(length: number): Uint8Array {
  if (length > MAX_CARVED_BYTES) return new Uint8Array(length);
  if (slabUsed + length > slab.length) {
    slab = new Uint8Array(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + length);
  slabUsed += (length + 7) & ~7; // 8-byte aligned, as allocators are
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Not constant-time: for public values only (digests, fingerprints). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

/** Typing shim: DOM's WebCrypto types want ArrayBuffer-backed views; ours always are. */
export const bufferSource = (bytes: Uint8Array) => bytes as Uint8Array<ArrayBuffer>;
