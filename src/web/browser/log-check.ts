/**
 * @module
 * The log link: the bundle's C2SP tlog-proof, offline, as the client checks it
 * (scripts/cli/log/check.ts `checkProof`): the proof's index is the countersignature's sequence
 * number, its checkpoint is signed by the log key the verified identity document names, and the
 * countersignature's payload bytes (the log entry) are included at that index.
 *
 * The log key must be the registry key itself under the log's name (PROTOCOL §18: no new trust
 * root); an identity document without `log` (a registry signed before the log) gives the same
 * key under the name derived from the countersignature's origin, as the client derives it.
 * What a browser cannot do here: keep a checkpoint between visits and prove the log's later
 * checkpoints consistent with it (the CLI's view), or check witness cosignatures by keys it
 * does not know. The detail says so.
 */

import { equalBytes, fromBase64, toBase64 } from "../../core/bytes.js";
import { isPlainObject } from "../../core/dsse.js";
import { countersignatureEntry, logOrigin, logVerifier } from "../../core/log.js";
import { ED25519_TYPE, newNoteVerifier, openCheckpoint, parseNote, parseTlogProof, parseVerifierKey, type NoteVerifier } from "../../core/note/index.js";
import { fail, ok, type Result } from "../../core/result.js";
import { verifyTlogProof } from "../../core/tlog-proof.js";
import type { Verified } from "../../core/verify.js";
import type { TrustedIdentity } from "./identity-check.js";
import { link, type LinkOutcome } from "./outcome.js";

/**
 * `readCheckpoint`: the log's current checkpoint note (asked for only when the bundle carries no
 * proof, to tell a version still waiting for a log round from a proof removed on the way).
 */
export async function checkLog(bundle: Result<unknown>, identity: Result<TrustedIdentity>, signed: Result<Verified>, readCheckpoint: () => Promise<Result<Uint8Array>>): Promise<LinkOutcome> {
  if (!bundle.ok) return link("log", "failed", bundle.error);
  const value = isPlainObject(bundle.value) ? bundle.value : {};
  const text = value.tlogProof;
  if (text === undefined || text === null) return missingProof(identity, signed, readCheckpoint);
  if (typeof text !== "string") return link("log", "failed", "the bundle's tlogProof is not text");
  if (!identity.ok) return link("log", "failed", "not checked: the registry identity did not verify, so there is no log key to check the proof with");
  if (!signed.ok) return link("log", "failed", "not checked: the countersignature, whose payload is the log entry, does not verify");
  const v = signed.value;

  const key = await logKey(identity.value, v.registry.origin);
  if (!key.ok) return link("log", "failed", key.error);
  const proof = parseTlogProof(text);
  if (!proof.ok) return link("log", "failed", `the bundle's tlog-proof does not parse: ${proof.error}`);
  if (proof.value.index !== v.sequence) {
    return link("log", "failed", `the bundle's tlog-proof is for log index ${proof.value.index}, but the countersignature's sequence number is ${v.sequence} (expected index ${v.sequence}, actual index ${proof.value.index})`);
  }
  const entry = countersignatureEntry(value.countersignature as { payload: string });
  if (!entry.ok) return link("log", "failed", entry.error);
  // A proof made before a key rotation carries a checkpoint the retired key signed: it counts for
  // trees that do not include the rotation (PROTOCOL §21).
  let included = await verifyTlogProof(text, entry.value, { origin: key.value.origin, verifier: key.value.verifier });
  let verifier = key.value.verifier;
  let signer = identity.value.keyid;
  for (const retired of included.ok ? [] : identity.value.document.keys.filter((k) => k.status === "retired" && identity.value.chain.keys.has(k.keyid))) {
    const publicKey = fromBase64(retired.publicKey);
    const old = publicKey && (await logVerifier(v.registry.origin, publicKey));
    if (!old?.ok) continue;
    const attempt = await verifyTlogProof(text, entry.value, { origin: key.value.origin, verifier: old.value });
    if (attempt.ok && retired.until !== undefined && attempt.value.checkpoint.size > retired.until) {
      return link("log", "failed", `the bundle's tlog-proof carries a checkpoint signed by ${retired.keyid}, rotated away at log index ${retired.until}, for a tree of ${attempt.value.checkpoint.size} entries that includes that rotation`);
    }
    if (attempt.ok) {
      [included, verifier, signer] = [attempt, old.value, retired.keyid];
      break;
    }
  }
  if (!included.ok) return link("log", "failed", included.error);

  const { checkpoint, index } = included.value;
  const note = parseNote(proof.value.checkpoint);
  const others = note.ok ? note.value.signatures.filter((sig) => !(sig.name === verifier.name && sig.keyHash === verifier.keyHash)) : [];
  const witnesses = others.length
    ? `${others.length} witness cosignature${others.length === 1 ? "" : "s"} present (${[...new Set(others.map((sig) => sig.name))].join(", ")}): this page knows no witness keys, so they are not checked here.`
    : "No witness cosignatures on it.";
  return link(
    "log",
    "verified",
    `Entry #${index} (the countersignature's payload bytes) is included in the tree of ${checkpoint.size} entries with root hash ${toBase64(checkpoint.rootHash)}, in a checkpoint of ${key.value.origin} signed by registry key ${signer}${signer === identity.value.keyid ? "" : " (before its rotation)"}. ${witnesses} Whether later checkpoints extend this one is not checked in the browser (countersign verify does that).`,
  );
}

/**
 * No proof in the bundle: fine only while the log's signed checkpoint does not cover the entry
 * yet (the next round proves it). A checkpoint that covers it means the proof was removed.
 */
async function missingProof(identity: Result<TrustedIdentity>, signed: Result<Verified>, readCheckpoint: () => Promise<Result<Uint8Array>>): Promise<LinkOutcome> {
  if (!identity.ok || !signed.ok) return link("log", "failed", "not checked: the bundle has no tlogProof, and without a verified identity and countersignature this browser cannot tell whether one is due");
  const key = await logKey(identity.value, signed.value.registry.origin);
  if (!key.ok) return link("log", "failed", key.error);
  const note = await readCheckpoint();
  if (!note.ok) return link("log", "failed", `the bundle has no tlogProof, and the log's checkpoint could not be read to tell whether one is due: ${note.error}`);
  const opened = await openCheckpoint(note.value, key.value.origin, key.value.verifier);
  if (!opened.ok) return link("log", "failed", `the bundle has no tlogProof, and the log's checkpoint does not open under registry key ${identity.value.keyid}`);
  const { size } = opened.value.checkpoint;
  const sequence = signed.value.sequence;
  if (size > sequence) {
    return link("log", "failed", `the log's signed checkpoint (a tree of ${size} entries) already covers entry #${sequence}, but the bundle carries no tlogProof: removed on the way? (expected a proof, actual none)`);
  }
  return link("log", "absent", `Not yet in a published checkpoint: the log's checkpoint is a tree of ${size} entries and this is entry #${sequence}. The registry's next log round proves it.`);
}

/** The log's origin and note verifier: from the identity document, and the registry's own key. */
async function logKey(identity: TrustedIdentity, registryOrigin: string): Promise<Result<{ origin: string; verifier: NoteVerifier }>> {
  const log = identity.document.log;
  if (!log) {
    const origin = logOrigin(registryOrigin);
    const verifier = await logVerifier(registryOrigin, identity.publicKey);
    return verifier.ok ? ok({ origin, verifier: verifier.value }) : fail(`no log key for ${origin}: ${verifier.error}`);
  }
  const parsed = await parseVerifierKey(log.key);
  if (!parsed.ok) return fail(`the identity document's log key does not parse: ${parsed.error}`);
  if (parsed.value.type !== ED25519_TYPE || !equalBytes(parsed.value.publicKey, identity.publicKey)) {
    return fail(`the identity document's log key is not the registry key ${identity.keyid} (PROTOCOL §18): it is ${log.key}`);
  }
  if (parsed.value.name !== log.origin) return fail(`the identity document's log key is named ${parsed.value.name}, not the log origin ${log.origin}`);
  const verifier = await newNoteVerifier(log.key);
  return verifier.ok ? ok({ origin: log.origin, verifier: verifier.value }) : fail(`the identity document's log key: ${verifier.error}`);
}
