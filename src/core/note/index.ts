/**
 * @module
 * C2SP signed notes and the transparency-log formats built on them: checkpoints, cosignatures,
 * tlog-proof. Web APIs only; Ed25519 through the core's strict verifier (signature.ts).
 */

export {
  ED25519_TYPE,
  MAX_NOTE_BYTES,
  MAX_NOTE_SIGNATURES,
  MAX_SIGNATURE_LINE_BYTES,
  checkNoteText,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatSignerKey,
  formatVerifierKey,
  isValidKeyName,
  keyHashHex,
  keyHashOf,
  newNoteSigner,
  newNoteVerifier,
  noteErrorText,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  type Note,
  type NoteError,
  type NoteSignature,
  type NoteSigner,
  type NoteSignerKey,
  type NoteVerifier,
  type NoteVerifierKey,
  type ParsedNote,
} from "./note.js";
export { formatCheckpoint, openCheckpoint, parseCheckpoint, type Checkpoint, type CheckpointError, type OpenedCheckpoint } from "./checkpoint.js";
export {
  COSIGNATURE_TYPE,
  cosignatureMessage,
  cosignatureSigner,
  cosignatureTimestamp,
  cosignatureVerifier,
  newCosignatureSigner,
  newCosignatureVerifier,
} from "./cosignature.js";
export { MAX_PROOF_HASHES, TLOG_PROOF_HEADER, formatTlogProof, parseTlogProof, type TlogProof } from "./proof-text.js";
