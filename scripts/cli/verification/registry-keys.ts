/**
 * @module
 * The registry's keys in verification (PROTOCOL §21): judging a bundle against the key chain the
 * pins and the registry's logged rotations make, and the public keys the log check needs to open
 * checkpoints signed across a rotation.
 */

import { countersignRefusal, fail, fromBase64, listedKeys, type KeyChain, type Result, type Verified, type VerifyFailure } from "../../../src/core/index.js";
import { fetchIdentity } from "../commands/identity.js";
import { registryOfBundle } from "../log/check.js";
import { judge, type JudgeInput } from "./judge.js";

/**
 * The registry's key chain from `fingerprints` and the keys its identity document lists, opened
 * under them (the first place that answers); undefined when no place serves one that opens.
 */
export async function identityChain(fingerprints: readonly string[], bases: readonly string[]): Promise<{ chain: KeyChain; keys: { publicKey: Uint8Array; until?: number | undefined }[] } | undefined> {
  for (const base of new Set(bases)) {
    try {
      const identity = await fetchIdentity(base, fingerprints);
      if (identity.chain) return { chain: identity.chain, keys: listedKeys(identity.document) };
    } catch {
      // Not there, or not opening under the pins: the next place.
    }
  }
  return undefined;
}

/** Every key of a registry's history with a known public key (rotations name them; bundles carry theirs), with its range. */
export function historyKeys(chain: KeyChain | undefined, bundles: unknown[]): { publicKey: Uint8Array; until?: number | undefined }[] {
  const keys = new Map<string, { publicKey: Uint8Array; until?: number | undefined }>();
  for (const k of chain?.keys.values() ?? []) {
    const publicKey = k.publicKey ? fromBase64(k.publicKey) : undefined;
    if (publicKey) keys.set(k.keyid, { publicKey, until: k.until });
  }
  for (const bundle of bundles) {
    const key = registryOfBundle(bundle);
    if (key && !keys.has(key.keyid)) keys.set(key.keyid, { publicKey: key.publicKey, until: chain?.keys.get(key.keyid)?.until });
  }
  return [...keys.values()];
}

/**
 * `judge` with the registry's key chain as the pinned keys, then the chain's rule: the key that
 * countersigned may sign that sequence number (not rotated away before it, not made the key
 * after it). A countersignature by a key nobody pinned names the rotations that did not open.
 */
export async function judgeAgainstChain(input: JudgeInput, chain: KeyChain, unopened: string[] = []): Promise<Result<Verified, VerifyFailure>> {
  const result = await judge(input);
  if (!result.ok) {
    if (result.error.code === "untrusted_registry" && unopened.length) return fail({ ...result.error, message: `${result.error.message}; rotations served that do not verify: ${unopened.join("; ")}` });
    return result;
  }
  const refusal = countersignRefusal(chain, result.value.registry.keyid, result.value.sequence);
  if (!refusal) return result;
  const key = chain.keys.get(result.value.registry.keyid)!;
  return fail({
    layer: "binding",
    code: "registry_key_retired",
    message: `${input.name}@${input.version}: ${refusal} (the registry's logged key rotation)`,
    name: input.name,
    version: input.version,
    namespace: result.value.namespace,
    expected: key.until !== undefined ? `a sequence number below ${key.compromisedSince ?? key.until} for ${key.keyid}` : `a sequence number above ${key.after} for ${key.keyid}`,
    actual: `sequence ${result.value.sequence}`,
  });
}
