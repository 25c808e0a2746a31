/**
 * @module
 * Step 1 of project verification: judge every lockfile entry by the pins before anything is
 * fetched. An entry is judged by the namespace of every name it is installed as (what
 * `require()` finds it by) *and* of its package name:
 *
 * - any of those names rejected by the pins → failed;
 * - none of them pinned to a registry → unverified, allowed by the rule that matched (whatever
 *   its kind: a git or file dependency in an allowed namespace is reported, not skipped);
 * - otherwise the entry must be a registry package installed under exactly its own name (no
 *   alias into a pinned name, no link, directory, git, tarball, workspace, patch or bundled copy
 *   there), with one unambiguous sha512, and is checked against the pin of its package name.
 */

import { checkPackageName, checkVersion, hexFromSri, resolvePin, type Pins, type Resolution, type RetiredKey, type VerifyFailure, type WitnessPolicy } from "../../../src/core/index.js";
import type { LockEntry, SourceKind } from "../lockfiles/types.js";

export interface RegistryPin {
  /** The pins name of the registry. */
  registry: string;
  url: string;
  fingerprints: string[];
  /** Keys rotated away, trusted below their rotation's log index (pins `retired`). */
  retired?: RetiredKey[];
  /** Witnesses whose cosignatures the registry's log checkpoints need (pins `witnesses`). */
  witnesses?: WitnessPolicy;
}

export type Planned =
  | { status: "unverified"; entry: LockEntry; namespace: string; rule: string }
  | { status: "failed"; entry: LockEntry; failure: VerifyFailure }
  | {
      status: "check";
      entry: LockEntry;
      namespace: string;
      pin: RegistryPin;
      /** Hex sha512 the lockfile binds the bytes to; undefined when the verifier must hash the tarball (yarn berry). */
      sha512: string | undefined;
    };

const KIND_WORDS: Record<SourceKind, string> = {
  registry: "a registry package",
  bundled: "bundled inside another package's tarball",
  link: "a link to a local directory",
  directory: "a copy of a local directory",
  tarball: "a tarball from a URL or file, not from a registry",
  git: "a git dependency",
  workspace: "a workspace of the project",
  patch: "a patched copy of a registry package",
};

/** The one sha512 an SRI string names; several different sha512 values are ambiguous (npm accepts any). */
export function lockedSha512(integrity: string | undefined): { ok: true; sha512: string } | { ok: false; reason: string } {
  if (!integrity) return { ok: false, reason: "the lockfile records no integrity for it" };
  const parts = integrity.trim().split(/\s+/).filter((p) => p.startsWith("sha512-"));
  if (parts.length === 0) return { ok: false, reason: `the lockfile records no sha512 integrity for it (found: ${integrity.slice(0, 100)})` };
  const digests = new Set(parts.map((p) => hexFromSri(p, "sha512")));
  if (digests.has(undefined)) return { ok: false, reason: "its sha512 integrity is malformed" };
  if (digests.size > 1) return { ok: false, reason: "its integrity lists several different sha512 digests (npm would accept any of them)" };
  return { ok: true, sha512: [...digests][0]! };
}

function failure(entry: LockEntry, namespace: string, layer: VerifyFailure["layer"], code: VerifyFailure["code"], message: string, extra: Partial<VerifyFailure> = {}): Planned {
  return { status: "failed", entry, failure: { layer, code, message, name: entry.name, version: entry.version, namespace, ...extra } };
}

const where = (entry: LockEntry) => `${entry.location} in ${entry.lockfile}`;

export function planEntry(entry: LockEntry, pins: Pins): Planned {
  const names = [...new Set([...entry.installedAs, entry.name])];
  const resolutions = names.map((name) => ({ name, ...resolvePin(pins, name) }));
  const own = resolutions.find((r) => r.name === entry.name)!;

  const rejected = resolutions.find((r) => r.rule.kind === "reject");
  if (rejected) {
    const ns = rejected.namespace;
    const as = rejected.name === entry.name ? "" : ` (installed as ${rejected.name})`;
    // A wildcard "reject" is what catches a namespace new to the project (a look-alike scope).
    const why =
      rejected.matched === ns ? `${ns} is rejected (rule "${ns}": "reject")` : `${ns} is neither pinned nor allowed (${rejected.matched ? `rule "${rejected.matched}": "reject"` : "no rule covers it"})`;
    return failure(entry, ns, "binding", "unpinned_namespace", `${why}${as}, at ${where(entry)}`);
  }

  const pinned = resolutions.filter((r): r is typeof r & { rule: Extract<Resolution["rule"], { kind: "registry" }> } => r.rule.kind === "registry");
  if (pinned.length === 0) return { status: "unverified", entry, namespace: own.namespace, rule: own.matched ?? "" };

  const at = pinned.find((r) => r.name !== entry.name) ?? pinned[0]!;
  if (entry.kind !== "registry") {
    return failure(entry, at.namespace, "binding", "not_a_registry_package", `${at.name} is in pinned namespace ${at.namespace} but is ${KIND_WORDS[entry.kind]}${entry.resolved ? ` (${entry.resolved.slice(0, 120)})` : ""}: only a package countersigned for ${at.name} may be installed there, at ${where(entry)}`, {
      expected: `${at.name} from a registry`,
      actual: entry.kind,
    });
  }
  const alias = pinned.find((r) => r.name !== entry.name);
  if (alias) {
    return failure(entry, alias.namespace, "binding", "alias_into_pinned_namespace", `${alias.name} is in pinned namespace ${alias.namespace} but the lockfile installs ${entry.name}@${entry.version} there, at ${where(entry)}`, {
      expected: alias.name,
      actual: entry.name,
    });
  }

  const nameCheck = checkPackageName(entry.name);
  const versionCheck = checkVersion(entry.version);
  if (!nameCheck.ok || !versionCheck.ok) return failure(entry, own.namespace, "binding", "invalid_request", `${nameCheck.ok ? (versionCheck.ok ? "" : versionCheck.reason) : nameCheck.reason}, at ${where(entry)}`);

  const rule = own.rule as Extract<Resolution["rule"], { kind: "registry" }>;
  const pin: RegistryPin = { registry: rule.registry, url: rule.url, fingerprints: rule.fingerprints, ...(rule.retired ? { retired: rule.retired } : {}), ...(rule.witnesses ? { witnesses: rule.witnesses } : {}) };
  if (!entry.integrityOfTarball) return { status: "check", entry, namespace: own.namespace, pin, sha512: undefined };
  const locked = lockedSha512(entry.integrity);
  if (!locked.ok) return failure(entry, own.namespace, "integrity", "digest_mismatch", `${locked.reason}, at ${where(entry)}`);
  return { status: "check", entry, namespace: own.namespace, pin, sha512: locked.sha512 };
}
