/**
 * @module
 * C2SP signed notes (c2sp.org/signed-note@v1.0.0), as Go's golang.org/x/mod/sumdb/note.
 *
 * A note is UTF-8 text, with no ASCII control character other than newline, ending in a newline;
 * then a blank line; then one or more signature lines:
 *
 *     <text, ending in "\n">
 *     "\n"
 *     "— " <key name> " " base64( keyHash(4, big-endian) ‖ signature ) "\n"   (one or more)
 *
 * The dash is U+2014. The text may contain blank lines itself: it ends at the LAST "\n\n" of the
 * note. A key name is non-empty, contains no Unicode space and no "+". The (name, key hash) pair
 * names a key; for Ed25519 (signature type 0x01)
 *
 *     keyHash = SHA-256( name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key )[:4]
 *
 * and the signature is RFC 8032 Ed25519 over the text (final newline included, separating blank
 * line not), verified by the core's strict verifier (signature.ts: native first, noble decides).
 *
 * Verifier keys ("vkeys") are `<name>+<hex8 keyHash>+<base64(type ‖ public key)>`; signer keys
 * (secret) are `PRIVATE+KEY+<name>+<hex8 keyHash>+<base64(type ‖ seed)>`. Example (Go's):
 *
 *     PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW
 *
 * verifies
 *
 *     If you think cryptography is the answer to your problem,
 *     then you don't know what your problem is.
 *
 *     — PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=
 *
 * Opening a note (`openNote`), as the spec and Go's `note.Open` say:
 * - a signature whose (name, key hash) matches no known key is ignored (kept in `unverifiedSigs`);
 * - a signature by a known key MUST verify, or the whole note is refused (`invalid-signature`);
 * - at least one known key must have signed, or the note is refused (`unverified`, carrying it);
 * - every signature line by a known key is verified, even a second one by the same key (Go skips
 *   it); the note keeps each key's first signature, and a repeated identical unknown line once.
 *
 * Limits, so hostile input costs bounded work: at most `MAX_NOTE_BYTES` in all, at most
 * `MAX_NOTE_SIGNATURES` signature lines (the spec asks for at least 16; Go allows 100), each
 * at most `MAX_SIGNATURE_LINE_BYTES` (room for an ML-DSA-44 cosignature of an unknown key).
 * Base64 is strict (canonical, padded): a signature line any other encoding of the same bytes
 * would be refused where Go's decoder would accept it, which no honest signer produces.
 */

import { concatBytes, fromBase64, fromHex, fromUtf8, toBase64, utf8 } from "../bytes.js";
import { sha256 } from "../digest.js";
import { checkPublicKey, keyPairFromSeed, KEY_PROBLEM_TEXT, PUBLIC_KEY_LENGTH, SEED_LENGTH } from "../keys.js";
import { fail, ok, type MaybePromise, type Result } from "../result.js";
import { createSigner, newVerifier, type Signer } from "../signature.js";

/** Signature type byte of plain Ed25519 note signatures (signed-note §Signature types). */
export const ED25519_TYPE = 0x01;
export const MAX_NOTE_BYTES = 1 << 20;
export const MAX_NOTE_SIGNATURES = 100;
export const MAX_SIGNATURE_LINE_BYTES = 8192;

/** Verifies signatures by one key. `keyHash` is the spec's 32-bit key ID, as an unsigned number. */
export interface NoteVerifier {
  readonly name: string;
  readonly keyHash: number;
  /** Whether `signature` (the bytes after the key hash) signs `message`; false, never a throw. */
  verify(message: Uint8Array, signature: Uint8Array): MaybePromise<boolean>;
}

/** Signs notes with one key. */
export interface NoteSigner {
  readonly name: string;
  readonly keyHash: number;
  /** The signature bytes that follow the key hash in the signature line. */
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** One signature line of a note. */
export interface NoteSignature {
  readonly name: string;
  readonly keyHash: number;
  /** The base64 of the line: key hash ‖ signature. */
  readonly base64: string;
  /** The signature bytes after the key hash. */
  readonly signature: Uint8Array;
}

export interface Note {
  /** The signed text, ending in a newline. */
  readonly text: string;
  /** Signatures by known keys, all verified, in note order. */
  readonly sigs: readonly NoteSignature[];
  /** Signatures by unknown keys, not verified, in note order. */
  readonly unverifiedSigs: readonly NoteSignature[];
}

/** Why a note was refused. `malformed` carries a fixed reason; the others carry the key. */
export type NoteError =
  | { readonly code: "malformed"; readonly reason: string }
  | { readonly code: "invalid-signature"; readonly name: string; readonly keyHash: number }
  | { readonly code: "ambiguous-key"; readonly name: string; readonly keyHash: number }
  | { readonly code: "unverified"; readonly note: Note };

const malformed = (reason: string) => fail<NoteError>({ code: "malformed", reason });

// Go's unicode.IsSpace: ASCII white space, U+0085, U+00A0 and the Zs/Zl/Zp code points.
const SPACE_OR_PLUS = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000+]/;
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/** A key name: non-empty, well-formed, no Unicode space, no "+". */
export function isValidKeyName(name: unknown): name is string {
  return typeof name === "string" && name !== "" && !SPACE_OR_PLUS.test(name) && !LONE_SURROGATE.test(name) && !hasControl(name);
}

/** Whether `text` contains an ASCII control character other than newline. */
export function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 && c !== 0x0a) return true;
  }
  return false;
}

/** Hex8 form of a key hash, as vkeys and error messages write it. */
export const keyHashHex = (keyHash: number) => keyHash.toString(16).padStart(8, "0");

/** SHA-256(name ‖ 0x0A ‖ type ‖ publicKey)[:4] as an unsigned 32-bit number. */
export async function keyHashOf(name: string, type: number, publicKey: Uint8Array): Promise<number> {
  const sum = await sha256(concatBytes(utf8(name), Uint8Array.of(0x0a, type), publicKey));
  return ((sum[0]! << 24) | (sum[1]! << 16) | (sum[2]! << 8) | sum[3]!) >>> 0;
}

// --- Keys -------------------------------------------------------------------------------------

/** A parsed vkey; the key hash has been checked against name, type and key. */
export interface NoteVerifierKey {
  readonly name: string;
  readonly keyHash: number;
  readonly type: number;
  readonly publicKey: Uint8Array;
}

/**
 * Parses `<name>+<hex8>+<base64(type ‖ key)>` strictly: lowercase hex, canonical base64, a
 * 32-byte key for types 0x01 and 0x04 (the only ones known here), and a key hash that matches.
 * attacker-controlled when it comes from anywhere but configuration.
 */
export async function parseVerifierKey(vkey: string): Promise<Result<NoteVerifierKey, string>> {
  if (typeof vkey !== "string" || vkey.length > 4096) return fail("not a verifier key");
  const [name, hex, b64] = cut3(vkey);
  return parseKeyParts(name, hex, b64, "verifier");
}

/** `<name>+<hex8>+<base64(type ‖ publicKey)>`. Throws RangeError for a bad name or key. */
export async function formatVerifierKey(name: string, type: number, publicKey: Uint8Array): Promise<string> {
  if (!isValidKeyName(name)) throw new RangeError(`"name" expected a key name, got ${JSON.stringify(name)}`);
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_LENGTH) throw new RangeError(`"publicKey" expected 32 bytes`);
  const material = concatBytes(Uint8Array.of(type), publicKey);
  return `${name}+${keyHashHex(await keyHashOf(name, type, publicKey))}+${toBase64(material)}`;
}

/** A parsed signer key (secret). `publicKey` is derived from the seed; the hash matched it. */
export interface NoteSignerKey extends NoteVerifierKey {
  readonly seed: Uint8Array;
}

/** Parses `PRIVATE+KEY+<name>+<hex8>+<base64(type ‖ seed)>`, checking the hash against the derived key. */
export async function parseSignerKey(skey: string): Promise<Result<NoteSignerKey, string>> {
  if (typeof skey !== "string" || !skey.startsWith("PRIVATE+KEY+") || skey.length > 4096) return fail("not a signer key");
  const [name, hex, b64] = cut3(skey.slice("PRIVATE+KEY+".length));
  const material = fromBase64(b64);
  if (!isValidKeyName(name) || !/^[0-9a-f]{8}$/.test(hex) || !material || material.length !== 1 + SEED_LENGTH) return fail("malformed signer key");
  const type = material[0]!;
  if (type !== ED25519_TYPE && type !== 0x04) return fail("unknown signature type");
  const seed = material.slice(1);
  const { publicKey } = await keyPairFromSeed(seed);
  const keyHash = await keyHashOf(name, type, publicKey);
  if (keyHashHex(keyHash) !== hex) return fail("key hash does not match the key");
  return ok({ name, keyHash, type, publicKey, seed });
}

/** `PRIVATE+KEY+…` for a seed: for tests and key generation tools. */
export async function formatSignerKey(name: string, type: number, seed: Uint8Array): Promise<string> {
  const { publicKey } = await keyPairFromSeed(seed);
  const vkey = await formatVerifierKey(name, type, publicKey);
  const [, hex] = cut3(vkey);
  return `PRIVATE+KEY+${name}+${hex}+${toBase64(concatBytes(Uint8Array.of(type), seed))}`;
}

async function parseKeyParts(name: string, hex: string, b64: string, what: string): Promise<Result<NoteVerifierKey, string>> {
  const hash = /^[0-9a-f]{8}$/.test(hex) ? fromHex(hex) : undefined;
  const material = fromBase64(b64);
  if (!isValidKeyName(name) || !hash || !material || material.length === 0) return fail(`malformed ${what} key`);
  const type = material[0]!;
  const publicKey = material.slice(1);
  if (type !== ED25519_TYPE && type !== 0x04) return fail("unknown signature type");
  if (publicKey.length !== PUBLIC_KEY_LENGTH) return fail(`malformed ${what} key`);
  const keyHash = await keyHashOf(name, type, publicKey);
  if (keyHashHex(keyHash) !== hex) return fail("key hash does not match the key");
  const problem = checkPublicKey(publicKey);
  if (problem) return fail(KEY_PROBLEM_TEXT[problem]);
  return ok({ name, keyHash, type, publicKey });
}

// The name cannot contain "+", and neither can the hex; base64 can, so the key is the rest.
function cut3(text: string): [string, string, string] {
  const a = text.indexOf("+");
  const b = a < 0 ? -1 : text.indexOf("+", a + 1);
  if (b < 0) return ["", "", ""];
  return [text.slice(0, a), text.slice(a + 1, b), text.slice(b + 1)];
}

/**
 * The note verifier for an Ed25519 (type 0x01) vkey, verifying with the core's strict Ed25519
 * (signature.ts), so a host's registered native verifier answers first.
 */
export async function newNoteVerifier(vkey: string): Promise<Result<NoteVerifier, string>> {
  const parsed = await parseVerifierKey(vkey);
  if (!parsed.ok) return parsed;
  if (parsed.value.type !== ED25519_TYPE) return fail("not an Ed25519 note key (type 0x01)");
  return ed25519NoteVerifier(parsed.value.name, parsed.value.publicKey);
}

/** The note verifier for a name and a raw Ed25519 public key (the registry's own, say). */
export async function ed25519NoteVerifier(name: string, publicKey: Uint8Array): Promise<Result<NoteVerifier, string>> {
  if (!isValidKeyName(name)) return fail("invalid key name");
  const vetted = await newVerifier(publicKey);
  if (!vetted.ok) return fail(KEY_PROBLEM_TEXT[vetted.error]);
  const keyHash = await keyHashOf(name, ED25519_TYPE, publicKey);
  const key = vetted.value;
  return ok({ name, keyHash, verify: (message, signature) => key.verify(message, signature) });
}

/** A note signer for `name` over a core `Signer` (keys.ts / signature.ts): the registry's key. */
export async function ed25519NoteSigner(name: string, signer: Signer): Promise<NoteSigner> {
  if (!isValidKeyName(name)) throw new RangeError(`"name" expected a key name, got ${JSON.stringify(name)}`);
  const keyHash = await keyHashOf(name, ED25519_TYPE, signer.publicKey);
  return { name, keyHash, sign: (message) => signer.sign(message) };
}

/** The note signer for a `PRIVATE+KEY+…` string of type 0x01. */
export async function newNoteSigner(skey: string): Promise<Result<NoteSigner, string>> {
  const parsed = await parseSignerKey(skey);
  if (!parsed.ok) return parsed;
  if (parsed.value.type !== ED25519_TYPE) return fail("not an Ed25519 note key (type 0x01)");
  return ok(await ed25519NoteSigner(parsed.value.name, await createSigner(parsed.value.seed)));
}

// --- Notes ------------------------------------------------------------------------------------

/** Checks note text: well-formed, no control characters but newline, ends in a newline. */
export function checkNoteText(text: string): string | undefined {
  if (typeof text !== "string") return "note text is not a string";
  if (!text.endsWith("\n")) return "note text does not end in a newline";
  if (LONE_SURROGATE.test(text)) return "note text is not well-formed Unicode";
  if (hasControl(text)) return "note text contains a control character";
  return undefined;
}

/**
 * Signs `text` with each signer, after the signatures already on `note` (if a `Note` is given),
 * dropping an existing signature by a key that signs again. Returns the encoded note.
 */
export async function signNote(note: string | Note, ...signers: NoteSigner[]): Promise<Result<string, NoteError>> {
  const text = typeof note === "string" ? note : note.text;
  const problem = checkNoteText(text);
  if (problem) return malformed(problem);
  const message = utf8(text);
  const fresh: string[] = [];
  const signing = new Set<string>();
  for (const signer of signers) {
    if (!isValidKeyName(signer.name) || !Number.isInteger(signer.keyHash) || signer.keyHash < 0 || signer.keyHash > 0xffffffff) {
      return malformed("invalid signer");
    }
    signing.add(`${signer.name}+${signer.keyHash}`);
    const signature = await signer.sign(message);
    fresh.push(`— ${signer.name} ${toBase64(concatBytes(u32(signer.keyHash), signature))}\n`);
  }
  const kept: string[] = [];
  if (typeof note !== "string") {
    for (const sig of [...note.sigs, ...note.unverifiedSigs]) {
      if (signing.has(`${sig.name}+${sig.keyHash}`)) continue;
      const raw = fromBase64(sig.base64);
      if (!isValidKeyName(sig.name) || !raw || raw.length < 5 || readU32(raw) !== sig.keyHash) return malformed("invalid existing signature");
      kept.push(`— ${sig.name} ${sig.base64}\n`);
    }
  }
  if (kept.length + fresh.length === 0) return malformed("no signatures");
  const encoded = `${text}\n${kept.join("")}${fresh.join("")}`;
  if (utf8(encoded).length > MAX_NOTE_BYTES || kept.length + fresh.length > MAX_NOTE_SIGNATURES) return malformed("note too large");
  return ok(encoded);
}

/** A note split into its text and signature lines, nothing verified yet. */
export interface ParsedNote {
  readonly text: string;
  /** The text's bytes, exactly as signed. */
  readonly message: Uint8Array;
  readonly signatures: readonly NoteSignature[];
}

/** Syntax only: splits a note (attacker-controlled) without verifying anything. */
export function parseNote(input: string | Uint8Array): Result<ParsedNote, NoteError> {
  let bytes: Uint8Array;
  if (typeof input === "string") {
    if (input.length > MAX_NOTE_BYTES) return malformed("note too large");
    if (LONE_SURROGATE.test(input)) return malformed("not well-formed Unicode");
    bytes = utf8(input);
  } else if (input instanceof Uint8Array) {
    bytes = input;
  } else {
    return malformed("not a note");
  }
  if (bytes.length > MAX_NOTE_BYTES) return malformed("note too large");
  // UTF-8 multi-byte sequences never contain bytes below 0x80, so a byte scan finds every control.
  for (const byte of bytes) if (byte < 0x20 && byte !== 0x0a) return malformed("control character");
  let all: string;
  try {
    all = typeof input === "string" ? input : fromUtf8(bytes);
  } catch {
    return malformed("invalid UTF-8");
  }
  const split = all.lastIndexOf("\n\n");
  if (split < 0) return malformed("no blank line before the signatures");
  const text = all.slice(0, split + 1);
  const block = all.slice(split + 2);
  if (block === "" || !block.endsWith("\n")) return malformed("signature block does not end in a newline");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > MAX_NOTE_SIGNATURES) return malformed("too many signatures");
  const signatures: NoteSignature[] = [];
  for (const line of lines) {
    const sig = parseSignatureLine(line);
    if (!sig) return malformed("malformed signature line");
    signatures.push(sig);
  }
  return ok({ text, message: utf8(text), signatures });
}

function parseSignatureLine(line: string): NoteSignature | undefined {
  if (!line.startsWith("— ") || line.length > MAX_SIGNATURE_LINE_BYTES) return undefined;
  const rest = line.slice(2);
  const space = rest.indexOf(" ");
  if (space < 0) return undefined;
  const name = rest.slice(0, space);
  const base64 = rest.slice(space + 1);
  const raw = fromBase64(base64);
  if (!isValidKeyName(name) || !raw || raw.length < 5) return undefined;
  return { name, keyHash: readU32(raw), base64, signature: raw.subarray(4) };
}

/**
 * Opens a note: parses it and verifies every signature by a known key (see the module header for
 * each outcome). Never throws for any input.
 *
 * @example
 *   const v = await newNoteVerifier("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW");
 *   const opened = await openNote(noteText, [v.value]);
 *   if (opened.ok) opened.value.text; // the verified text
 */
export async function openNote(input: string | Uint8Array, known: readonly NoteVerifier[]): Promise<Result<Note, NoteError>> {
  const parsed = parseNote(input);
  if (!parsed.ok) return parsed;
  const { text, message, signatures } = parsed.value;
  const byKey = new Map<string, NoteVerifier[]>();
  for (const verifier of known) {
    const id = `${verifier.name}+${verifier.keyHash}`;
    byKey.set(id, [...(byKey.get(id) ?? []), verifier]);
  }
  const sigs: NoteSignature[] = [];
  const unverifiedSigs: NoteSignature[] = [];
  const seen = new Set<string>();
  const seenUnknown = new Set<string>();
  const verifiedLines = new Set<string>();
  for (const sig of signatures) {
    const id = `${sig.name}+${sig.keyHash}`;
    const candidates = byKey.get(id);
    if (candidates === undefined) {
      if (!seenUnknown.has(`${sig.name} ${sig.base64}`)) unverifiedSigs.push(sig);
      seenUnknown.add(`${sig.name} ${sig.base64}`);
      continue;
    }
    if (candidates.length > 1) return fail({ code: "ambiguous-key", name: sig.name, keyHash: sig.keyHash });
    // Every signature by a known key is verified (the spec's MUST; Go skips a second one by the
    // same key), an identical line only once; the note keeps the key's first signature.
    const line = `${id} ${sig.base64}`;
    if (verifiedLines.has(line)) continue;
    let valid = false;
    try {
      valid = (await candidates[0]!.verify(message, sig.signature)) === true;
    } catch {
      valid = false;
    }
    if (!valid) return fail({ code: "invalid-signature", name: sig.name, keyHash: sig.keyHash });
    verifiedLines.add(line);
    if (!seen.has(id)) sigs.push(sig);
    seen.add(id);
  }
  const note: Note = { text, sigs, unverifiedSigs };
  return sigs.length === 0 ? fail({ code: "unverified", note }) : ok(note);
}

/** One line for humans: "malformed note: …", "invalid signature for key name+hex8", … */
export function noteErrorText(error: NoteError): string {
  switch (error.code) {
    case "malformed":
      return `malformed note: ${error.reason}`;
    case "invalid-signature":
      return `invalid signature for key ${error.name}+${keyHashHex(error.keyHash)}`;
    case "ambiguous-key":
      return `ambiguous key ${error.name}+${keyHashHex(error.keyHash)}`;
    case "unverified":
      return "note has no verifiable signatures";
  }
}

function u32(n: number): Uint8Array {
  return Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
}

function readU32(bytes: Uint8Array): number {
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}
