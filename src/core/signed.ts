/**
 * @module
 * Opening a signed object: the one function every signed format of the protocol goes through
 * (publish statement, countersignature, review, identity document, receipt). Modelled on Go's
 * `note.Open`: parsing and verifying are one call, so no caller can hold a statement whose
 * signature it forgot to check, and every outcome has its own code.
 *
 * `openStatement(value, format, options)` returns `ok` only if every check passed, in this
 * order; the first failure is the result, a `SignedObjectProblem` whose `code` names it:
 *
 * | step | check                                                                    | code                   |
 * |------|--------------------------------------------------------------------------|------------------------|
 * | 1    | the value is one DSSE envelope of the accepted shape (dsse.ts)           | `malformed_envelope`   |
 * | 2    | its keyid is one the caller expects (`signedBy`, or the format's key)    | `unexpected_signer`    |
 * | 3    | its payloadType is the format's                                          | `wrong_payload_type`   |
 * | 4    | the payload parses as the format's statement (schema, self-consistency)  | `malformed_payload`    |
 * | 5    | the format finds the key that must have signed (in the statement, held)  | `unknown_key`          |
 * | 6    | that key is an acceptable Ed25519 key (keys.ts)                          | `bad_key`              |
 * | 7    | its keyid is its fingerprint                                             | `fingerprint_mismatch` |
 * | 8    | the envelope's keyid is that keyid                                       | `keyid_mismatch`       |
 * | 9    | the key is one the caller trusts (`trusted`, a pin), if given            | `untrusted_signer`     |
 * | 10   | the signature verifies under the key, strictly (signature.ts)            | `bad_signature`        |
 *
 * Steps 2 and 9 differ only in which failure wins: an expected signer (the key a countersignature
 * enrolled, a local receipt key) is checked before the payload is read; a pin is checked once the
 * statement is known to be well formed, so a malformed statement is reported as malformed whoever
 * signed it, and still before any signature is examined.
 *
 * A problem at step 9 or 10 carries the parsed statement as `unverified` (Go's
 * `UnverifiedNoteError`): for callers that must report other failures first (the Worker checks
 * the token and the enrolment before it reports a bad signature), never as a statement to act on.
 * Messages are one line without a prefix; callers add what the object is.
 */

import { openEnvelope, pae, type OpenedEnvelope } from "./dsse.js";
import { KEY_PROBLEM_TEXT, type KeyProblem } from "./keys.js";
import { fail, ok, type MaybePromise, type Result } from "./result.js";
import { newVerifier, type Verifier } from "./signature.js";

export type SignedObjectCode =
  | "malformed_envelope"
  | "unexpected_signer"
  | "wrong_payload_type"
  | "malformed_payload"
  | "unknown_key"
  | "bad_key"
  | "fingerprint_mismatch"
  | "keyid_mismatch"
  | "untrusted_signer"
  | "bad_signature";

/** A statement whose every check passed (or, as a problem's `unverified`, all but the last ones). */
export interface OpenedStatement<T> {
  readonly statement: T;
  /** The signer's fingerprint: the envelope's keyid, which is its key's fingerprint. */
  readonly keyid: string;
  readonly publicKey: Uint8Array;
  /** The decoded envelope (payload bytes, signature), for statements that bind it (countersign). */
  readonly envelope: OpenedEnvelope;
}

export type SignedObjectProblem<T = unknown> =
  | { readonly code: "malformed_envelope"; readonly message: string }
  | { readonly code: RefusalCode; readonly message: string; readonly keyid: string }
  | { readonly code: "untrusted_signer" | "bad_signature"; readonly message: string; readonly keyid: string; readonly unverified: OpenedStatement<T> };

/**
 * The key that must have signed, as the format finds it: named in the statement (base64, as
 * signed) or held by the caller (bytes, e.g. the machine's receipt key). `role` names it in
 * messages ("publisher public key rejected: …").
 */
export interface SignerKey {
  readonly role: string;
  readonly keyid: string;
  readonly publicKey: string | Uint8Array;
}

type RefusalCode = Exclude<SignedObjectCode, "malformed_envelope" | "untrusted_signer" | "bad_signature">;
type SignerKeyProblem = { readonly code: "bad_key" | "fingerprint_mismatch"; readonly message: string };
type Opened<T> = Result<OpenedStatement<T>, SignedObjectProblem<T>>;

/** What a signed format is: fixed per format, shared by every caller that opens it. */
export interface StatementFormat<T> {
  readonly payloadType: string;
  /** What the payload type denotes, for "not <what>": e.g. "an in-toto statement". */
  readonly what: string;
  /** Parses the payload bytes (attacker-controlled): schema and self-consistency, no key checks. */
  parse(payload: Uint8Array): Result<T, string>;
  /**
   * Who must have signed: a function finding the key (in the statement, given the envelope's
   * keyid for formats that list several), or one fixed key, which also makes step 2 expect it.
   */
  readonly signer: ((statement: T, keyid: string) => SignerKey | undefined) | SignerKey;
}

/** What one caller expects of the signer, beyond the format's rule. */
export interface OpenOptions {
  /** Step 2: the envelope must name one of these keyids. */
  readonly signedBy?: readonly string[] | undefined;
  /** Step 9: the signing key must be one of these fingerprints. */
  readonly trusted?: readonly string[] | undefined;
}

/**
 * Opens and verifies `value` (attacker-controlled) as `format`: the table above. Synchronous when
 * every step can answer now (a key vetted before, a native verifier that accepts); await it
 * either way.
 */
export function openStatement<T>(value: unknown, format: StatementFormat<T>, options: OpenOptions = {}): MaybePromise<Opened<T>> {
  const envelope = openEnvelope(value);
  if ("problem" in envelope) return fail({ code: "malformed_envelope", message: envelope.problem });
  const { keyid } = envelope;

  const fixed = typeof format.signer === "function" ? undefined : format.signer;
  const expected = fixed ? [fixed.keyid] : options.signedBy;
  if (expected && !expected.includes(keyid)) return refuse(keyid, "unexpected_signer", `signed by ${keyid}, expected ${expected.join(" or ")}`);
  if (envelope.payloadType !== format.payloadType) return refuse(keyid, "wrong_payload_type", `not ${format.what}`);
  const parsed = format.parse(envelope.payload);
  if (!parsed.ok) return refuse(keyid, "malformed_payload", parsed.error);
  const statement = parsed.value;
  const named = fixed ?? (typeof format.signer === "function" ? format.signer(statement, keyid) : undefined);
  if (!named) return refuse(keyid, "unknown_key", `signed by ${keyid}, a key the statement does not name`);

  // Plain functions instead of closures: this runs twice per package verified.
  const verifier = vetSignerKey(named);
  if (verifier instanceof Promise) return verifier.then((vetted) => verifyWith(vetted, named, statement, envelope, options));
  return verifyWith(verifier, named, statement, envelope, options);
}

/** Steps 6–10, once the signer's key is vetted. */
function verifyWith<T>(verifier: Result<Verifier, SignerKeyProblem>, named: SignerKey, statement: T, envelope: OpenedEnvelope, options: OpenOptions): MaybePromise<Opened<T>> {
  const { keyid } = envelope;
  if (!verifier.ok) return refuse(keyid, verifier.error.code, verifier.error.message);
  if (keyid !== named.keyid) return refuse(keyid, "keyid_mismatch", `envelope keyid differs from the ${named.role} key in the statement`);
  const opened: OpenedStatement<T> = { statement, keyid, publicKey: verifier.value.publicKey, envelope };
  if (options.trusted && !options.trusted.includes(keyid)) return fail({ code: "untrusted_signer", message: `signed by ${keyid}, which is not trusted here`, keyid, unverified: opened });
  const valid = verifier.value.verify(pae(envelope.payloadType, envelope.payload), envelope.signature);
  return valid instanceof Promise ? valid.then((answer) => verdict(answer, opened)) : verdict(valid, opened);
}

function verdict<T>(valid: boolean, opened: OpenedStatement<T>): Opened<T> {
  return valid ? ok(opened) : fail({ code: "bad_signature", message: `signature by ${opened.keyid} does not verify`, keyid: opened.keyid, unverified: opened });
}

function refuse(keyid: string, code: RefusalCode, message: string): { ok: false; error: SignedObjectProblem<never> } {
  return fail({ code, message, keyid });
}

/** Steps 6 and 7 on their own: the key is acceptable and its keyid is its fingerprint. */
export function vetSignerKey(key: SignerKey): MaybePromise<Result<Verifier, SignerKeyProblem>> {
  const verifier = newVerifier(key.publicKey);
  return verifier instanceof Promise ? verifier.then((vetted) => checkSignerKey(key, vetted)) : checkSignerKey(key, verifier);
}

function checkSignerKey(key: SignerKey, verifier: Result<Verifier, KeyProblem>): Result<Verifier, SignerKeyProblem> {
  if (!verifier.ok) return fail({ code: "bad_key", message: `${key.role} public key rejected: ${KEY_PROBLEM_TEXT[verifier.error]}` });
  if (verifier.value.keyid !== key.keyid) return fail({ code: "fingerprint_mismatch", message: `${key.role} keyid is not the fingerprint of the ${key.role} public key` });
  return verifier;
}
