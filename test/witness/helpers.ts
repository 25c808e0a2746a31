/**
 * Helpers for the witness tests: logs kept in memory with the core's stored-hash layout (no
 * node:crypto in workerd, so test/core/tlog-helpers.ts's reference tree is not used here),
 * checkpoints signed with fixed test keys, add-checkpoint bodies, and requests through the real
 * Worker entry (SELF).
 */

import { env, SELF } from "cloudflare:test";
import {
  consistencyProof,
  createSigner,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatCheckpoint,
  leafHash,
  newCosignatureVerifier,
  signNote,
  storedHashes,
  toBase64,
  treeHash,
  utf8,
  type Hash,
  type HashReader,
  type NoteSigner,
  type NoteVerifier,
} from "../../src/core/index.js";
import { d1WitnessStore } from "../../src/witness/d1-store.js";

export const WITNESS_URL = "http://witness.test";
export const WITNESS_NAME = "witness.test";
/** The seed of every configured log key (vitest.config.ts TEST_WITNESS_LOGS); 0x03 is rotating.test's second key. */
export const LOG_SEED = 0x01;
export const SECOND_SEED = 0x03;
export const REGISTRY_ORIGIN = "registry.test/-/countersign/v1/log";

/** A log in memory: entries appended through the core, roots and proofs read back from it. */
export class MemoryLog implements HashReader {
  readonly hashes: Hash[] = [];
  size = 0;

  readHashes(indexes: readonly number[]) {
    return indexes.map((i) => {
      const hash = this.hashes[i];
      if (!hash) throw new RangeError(`no stored hash ${i}`);
      return hash;
    });
  }

  /** Appends `count` entries named `<tag> <index>`: two logs with different tags fork at the first entry they add. */
  async grow(count: number, tag = "entry"): Promise<this> {
    for (let i = 0; i < count; i++) {
      const added = await storedHashes(this.size, await leafHash(utf8(`${tag} ${this.size}`)), this);
      if (!added.ok) throw new Error(added.error);
      this.hashes.push(...added.value);
      this.size++;
    }
    return this;
  }

  async root(size = this.size): Promise<Hash> {
    const root = await treeHash(size, this);
    if (!root.ok) throw new Error(root.error);
    return root.value;
  }

  /** The consistency proof from `oldSize` to `size` (default: the whole log). */
  async proof(oldSize: number, size = this.size): Promise<Hash[]> {
    const proof = await consistencyProof(size, oldSize, this);
    if (!proof.ok) throw new Error(proof.error);
    return proof.value;
  }
}

export const logOf = (size: number, tag?: string) => new MemoryLog().grow(size, tag);

export async function logSigner(origin: string, seed = LOG_SEED): Promise<NoteSigner> {
  return ed25519NoteSigner(origin, await createSigner(new Uint8Array(32).fill(seed)));
}

export async function logVerifier(origin: string, seed = LOG_SEED): Promise<NoteVerifier> {
  const verifier = await ed25519NoteVerifier(origin, (await createSigner(new Uint8Array(32).fill(seed))).publicKey);
  if (!verifier.ok) throw new Error(verifier.error);
  return verifier.value;
}

/** The checkpoint note of `log` at `size`, signed by `signers` (default: the log's configured key). */
export async function checkpointNote(origin: string, log: MemoryLog, size = log.size, signers?: NoteSigner[]): Promise<string> {
  const text = formatCheckpoint({ origin, size, rootHash: await log.root(size), extensions: [] });
  const note = await signNote(text, ...(signers ?? [await logSigner(origin)]));
  if (!note.ok) throw new Error("signing failed");
  return note.value;
}

/** An add-checkpoint body, exactly as the spec lays it out. */
export function addBody(oldSize: number | string, proof: readonly Hash[], note: string): string {
  return `old ${oldSize}\n${proof.map((hash) => `${toBase64(hash)}\n`).join("")}\n${note}`;
}

/** The body that moves `origin` from `oldSize` to the log's current size. */
export async function growBody(origin: string, log: MemoryLog, oldSize: number, size = log.size): Promise<string> {
  return addBody(oldSize, await log.proof(oldSize, size), await checkpointNote(origin, log, size));
}

export function post(body: BodyInit, headers: Record<string, string> = {}): Promise<Response> {
  return SELF.fetch(`${WITNESS_URL}/add-checkpoint`, { method: "POST", body, headers });
}

export interface WitnessInfo {
  name: string;
  vkey: string;
  protocol: string;
  addCheckpoint: string;
  logs: { origin: string; keys: string[] }[];
}

export async function witnessInfo(): Promise<WitnessInfo> {
  const response = await SELF.fetch(`${WITNESS_URL}/`);
  if (response.status !== 200) throw new Error(`GET / answered ${response.status}`);
  return response.json();
}

/** The witness's cosignature verifier, from the vkey it publishes. */
export async function witnessVerifier(): Promise<NoteVerifier> {
  const verifier = await newCosignatureVerifier((await witnessInfo()).vkey);
  if (!verifier.ok) throw new Error(verifier.error);
  return verifier.value;
}

export const store = () => d1WitnessStore(env.DB);

/** The size and base64 root the witness has stored for `origin` (undefined: nothing). */
export async function stored(origin: string): Promise<{ size: number; root: string } | undefined> {
  const latest = await store().latest(origin);
  return latest && { size: latest.size, root: toBase64(latest.rootHash) };
}
