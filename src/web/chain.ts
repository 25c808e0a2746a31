/**
 * @module
 * What the server reads and checks of one version's provenance chain for its page: the same
 * core checks the client runs (verifyBundle against the registry's own key, verifyTlogProof,
 * verifyReview), so the page states what the registry holds and whether it verifies here. The
 * browser then repeats every check it can against the fingerprint the user trusts
 * (src/web/browser); this module never decides what the browser shows as verified.
 */

import {
  countersignRefusal,
  fail,
  followRotations,
  fromBase64,
  isPlainObject,
  logOrigin,
  logVerifier,
  parseNote,
  parseTlogProof,
  sriFromHex,
  toBase64,
  verifyBundle,
  verifyReview,
  verifyTlogProof,
  type AiAttribute,
  type FileEntry,
  type KeyChain,
  type KeyRotation,
  type Layer,
  type Signer,
} from "../core/index.js";

export interface ChainFacts {
  /** verifyBundle against the registry's own key: null when it verifies, else the layer and reason. */
  problem: { layer: Layer; message: string } | null;
  /** `approval`: the second key's approval the countersignature binds (staged publishing, PROTOCOL §12.1), null for a direct publish. */
  publisher: { keyid: string; label: string | null; createdAt: string; approval: { keyid: string; approvedAt: string } | null } | null;
  countersignature: { keyid: string; sequence: number; publishedAt: string; origin: string } | null;
  log: LogFacts | null;
  artifact: { size: number; integrity: string; sha256: string };
  files: FileEntry[] | null;
  ai: AiAttribute | null;
  reviews: ReviewFacts[];
  npmSignature: { keyid: string } | null;
}

export interface LogFacts {
  index: number;
  treeSize: number;
  rootHash: string;
  cosignatures: number;
  /** null: the proof verifies under the registry's log key; else why not. */
  problem: string | null;
}

export interface ReviewFacts {
  keyid: string | null;
  verdict: string | null;
  reviewedAt: string | null;
  note: string | null;
  problem: string | null;
}

export interface VersionSource {
  name: string;
  version: string;
  size: number;
  sha256: string;
  sha512: string;
  bundle: string | null;
  npmSignature?: string | null;
  publisherLabel?: string | null;
}

/** Reads and checks the chain of one stored version. Never throws on a malformed bundle. */
export async function chainFacts(row: VersionSource, registry: { origin: string; signer: Signer; rotations?: readonly KeyRotation[] }): Promise<ChainFacts> {
  const bundle = jsonObject(row.bundle) ?? {};
  const artifact = { size: row.size, integrity: sriFromHex("sha512", row.sha512), sha256: row.sha256 };
  // The registry's own key and the keys its logged rotations connect it to (PROTOCOL §21), each for its log indexes.
  const keys = followRotations({ fingerprints: [registry.signer.keyid] }, registry.rotations ?? []);
  const checked = await verifyBundle({
    name: row.name,
    version: row.version,
    artifact: { sha512: row.sha512, sha256: row.sha256, size: row.size },
    bundle,
    pinned: keys.ok ? [...keys.value.keys.keys()] : [registry.signer.keyid],
  });
  const refusal = checked.ok && keys.ok ? countersignRefusal(keys.value, checked.value.registry.keyid, checked.value.sequence) : undefined;
  const verified = refusal ? fail({ layer: "binding" as const, message: refusal }) : checked;
  const [log, reviews] = await Promise.all([logFacts(bundle, registry, keys.ok ? keys.value : undefined), reviewFacts(bundle.reviews, row)]);
  const npm = jsonObject(row.npmSignature ?? null) ?? {};
  const npmSignature = typeof npm.keyid === "string" ? { keyid: npm.keyid } : null;
  if (!verified.ok) {
    return { problem: { layer: verified.error.layer, message: verified.error.message }, publisher: null, countersignature: null, log, artifact, files: null, ai: null, reviews, npmSignature };
  }
  const v = verified.value;
  return {
    problem: null,
    publisher: { keyid: v.publisher.keyid, label: row.publisherLabel ?? null, createdAt: v.publisher.createdAt, approval: v.approval },
    countersignature: { keyid: v.registry.keyid, sequence: v.sequence, publishedAt: v.publishedAt, origin: v.registry.origin },
    log,
    artifact,
    files: v.attributes.files ?? null,
    ai: v.attributes.ai ?? null,
    reviews,
    npmSignature,
  };
}

async function logFacts(bundle: Record<string, unknown>, registry: { origin: string; signer: Signer }, keys: KeyChain | undefined): Promise<LogFacts | null> {
  if (typeof bundle.tlogProof !== "string") return null;
  const unproven = (index: number, problem: string): LogFacts => ({ index, treeSize: 0, rootHash: "", cosignatures: 0, problem });
  const parsed = parseTlogProof(bundle.tlogProof);
  if (!parsed.ok) return unproven(-1, parsed.error);
  const payload = isPlainObject(bundle.countersignature) && typeof bundle.countersignature.payload === "string" ? fromBase64(bundle.countersignature.payload) : undefined;
  if (!payload) return unproven(parsed.value.index, "the countersignature has no payload");
  let verifier = await logVerifier(registry.origin, registry.signer.publicKey);
  if (!verifier.ok) return unproven(parsed.value.index, verifier.error);
  let included = await verifyTlogProof(bundle.tlogProof, payload, { origin: logOrigin(registry.origin), verifier: verifier.value });
  // A proof from before a rotation: its checkpoint is the retired key's, good for trees without the rotation.
  for (const key of included.ok ? [] : [...(keys?.keys.values() ?? [])].filter((k) => k.until !== undefined && k.publicKey)) {
    const old = await logVerifier(registry.origin, fromBase64(key.publicKey!) ?? new Uint8Array());
    const attempt = old.ok ? await verifyTlogProof(bundle.tlogProof, payload, { origin: logOrigin(registry.origin), verifier: old.value }) : undefined;
    if (old.ok && attempt?.ok && attempt.value.checkpoint.size <= key.until!) {
      [verifier, included] = [old, attempt];
      break;
    }
  }
  if (!included.ok) return unproven(parsed.value.index, included.error);
  const { checkpoint } = included.value;
  // Cosignatures: every signature of the checkpoint note but the log's own.
  const note = parseNote(parsed.value.checkpoint);
  const log = verifier.value;
  const cosignatures = note.ok ? note.value.signatures.filter((sig) => !(sig.name === log.name && sig.keyHash === log.keyHash)).length : 0;
  return { index: included.value.index, treeSize: checkpoint.size, rootHash: toBase64(checkpoint.rootHash), cosignatures, problem: null };
}

async function reviewFacts(reviews: unknown, row: VersionSource): Promise<ReviewFacts[]> {
  if (!Array.isArray(reviews)) return [];
  return Promise.all(
    reviews.map(async (envelope): Promise<ReviewFacts> => {
      const review = await verifyReview(envelope, { name: row.name, version: row.version, digests: { sha256: row.sha256, sha512: row.sha512 } });
      if (!review.ok) return { keyid: null, verdict: null, reviewedAt: null, note: null, problem: review.error };
      return { keyid: review.value.keyid, verdict: review.value.verdict, reviewedAt: review.value.reviewedAt, note: review.value.note ?? null, problem: null };
    }),
  );
}

/** A stored JSON text as an object: null for null, text that does not parse, or anything but an object. */
export function jsonObject(text: string | null): Record<string, unknown> | null {
  if (text === null) return null;
  try {
    const value: unknown = JSON.parse(text);
    return isPlainObject(value) ? value : null;
  } catch {
    return null;
  }
}
