/**
 * @module
 * Following a registry's key rotation in the pins (PROTOCOL §21). When a package verified only
 * because a logged rotation chains the key that countersigned it to a pinned key, `verify`
 * rewrites that registry's pins: the keys not rotated away become `fingerprints`, and each key
 * rotated away stays under `retired` with the log index of its rotation, so versions it
 * countersigned before then keep verifying, offline and through mirrors that serve no rotations.
 * The pins file is the consumer's root of trust, so the change is reported for review and commit.
 */

import { currentKeys, type KeyChain, type Pins } from "../../../src/core/index.js";
import type { ProvenanceOutcome, ProvenanceRequest } from "./provenance.js";

/**
 * The chain of each pinned registry whose logged rotations touched its pinned keys, by pins name:
 * a key that verified a package only through a rotation, or a pinned key rotated away (perhaps
 * declared compromised) that the pins should stop trusting beyond its rotation.
 */
export function followedRotations(requests: readonly ProvenanceRequest[], outcomes: readonly ProvenanceOutcome[]): Map<string, KeyChain> {
  const followed = new Map<string, KeyChain>();
  outcomes.forEach((outcome, i) => {
    if (outcome?.status === "verified" && outcome.chain?.rotations.length) followed.set(requests[i]!.pin.registry, outcome.chain);
  });
  return followed;
}

/** The pins with each followed registry's keys rewritten, and one line per registry saying what changed. */
export function pinsFollowing(pins: Pins, followed: ReadonlyMap<string, KeyChain>): { pins: Pins; changes: string[] } {
  const registries = { ...pins.registries };
  const changes: string[] = [];
  for (const [name, chain] of followed) {
    const registry = registries[name];
    if (!registry) continue;
    const fingerprints = currentKeys(chain);
    const retired = [...chain.keys.values()].flatMap((k) => (k.until === undefined ? [] : [{ fingerprint: k.keyid, until: k.until, ...(k.compromisedSince !== undefined ? { compromisedSince: k.compromisedSince } : {}) }]));
    const updated = { ...registry, fingerprints, ...(retired.length ? { retired } : {}) };
    // Nothing to say when the pins already say it (a run after the one that followed).
    if (JSON.stringify([registry.fingerprints, registry.retired ?? []]) === JSON.stringify([updated.fingerprints, updated.retired ?? []])) continue;
    registries[name] = updated;
    const steps = chain.rotations.map((r) => `${r.from.keyid} → ${r.to.keyid} at log index ${r.sequence}`).join(", ");
    changes.push(`registry "${name}" rotated its key (${steps}): now pinned ${fingerprints.join(", ")}; ${retired.map((k) => `${k.fingerprint} kept for versions before ${k.compromisedSince ?? k.until}${k.compromisedSince !== undefined ? " (declared compromised from there)" : ""}`).join(", ")}`);
  }
  return { pins: { ...pins, registries }, changes };
}
