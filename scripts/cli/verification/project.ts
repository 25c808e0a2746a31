/**
 * @module
 * Project verification, the resolver-side enforcement behind `countersign verify`, as one
 * pipeline of named steps over every lockfile entry:
 *
 *     read lockfiles → plan (judge by the pins, plan.ts) → find and judge provenance
 *     (provenance.ts: verify, then policy, the transparency log, the signed package metadata)
 *     → report → receipt for the runtime phase
 *
 * Fail-closed: an entry that fails any step fails the project (exit 1); one that could not be
 * checked because no registry answered is "unavailable" (exit 3); nothing is skipped silently.
 */

import { ANY_SCOPE, ANY_UNSCOPED, resolvePin, sriFromHex, type Pins, type Receipt, type Verified, type VerifyFailure } from "../../../src/core/index.js";
import { EXIT } from "../errors.js";
import { lockfilePaths, readLockfile } from "../lockfiles/index.js";
import { configuredRegistry } from "../lockfiles/registries.js";
import type { LockEntry, Manager, SourceKind } from "../lockfiles/types.js";
import { loadPins } from "../pins-file.js";
import { writePins } from "../commands/pin.js";
import { readReceipt, writeReceipt } from "../receipts.js";
import { followedRotations, pinsFollowing } from "./follow.js";
import { specKey } from "../registry-client.js";
import { planEntry, type Planned } from "./plan.js";
import { findProvenance, type LogInclusionReport, type ProvenanceOutcome, type ProvenanceRequest } from "./provenance.js";
import type { MetadataReport } from "./metadata.js";
import { verdictFor } from "./unchanged.js";

export type PackageStatus = "verified" | "unverified" | "failed" | "unavailable";

export interface PackageReport {
  name: string;
  version: string;
  namespace: string;
  status: PackageStatus;
  lockfile: string;
  /** Where the entry is in its lockfile (e.g. node_modules/@acme/utils). */
  location: string;
  /** The names Node finds it by. */
  installedAs: string[];
  kind: SourceKind;
  /** The pinned registry (pins name) that vouches for it. */
  registry?: string;
  verified?: Verified;
  /** For verified packages: where the registry's transparency log proved the countersignature. */
  log?: LogInclusionReport;
  /** For verified packages: the signed metadata that lists it (serial, expiry, where it was read). */
  metadata?: MetadataReport;
  failure?: VerifyFailure;
  /** For unverified packages: the rule that allowed them. */
  rule?: string;
  /** For unavailable packages: which host could not be reached. */
  message?: string;
}

/** What happened in one namespace: the rule that governs it and how its packages fared. */
export interface NamespaceReport {
  namespace: string;
  /** The pins' verdict for the namespace: checked against a registry, allowed unverified, or rejected. */
  rule: "registry" | "allow" | "reject";
  /** The key of `namespaces` that decided (`@babel`, `@*`, `*`), or null for the built-in reject. */
  matched: string | null;
  /** For rule "registry": the pinned registry (pins name). */
  registry?: string;
  total: number;
  verified: number;
  unverified: number;
  failed: number;
  unavailable: number;
}

export interface ProjectReport {
  ok: boolean;
  /** 0 ok, 1 rejected, 3 could not verify (a registry was unreachable and nothing was rejected). */
  exitCode: number;
  pins: string;
  lockfiles: string[];
  summary: { total: number; verified: number; unverified: number; failed: number; unavailable: number };
  /** The same counts by namespace (every namespace a package is reported in), pinned ones first. */
  namespaces: NamespaceReport[];
  packages: PackageReport[];
  /** Things the user should know that are not failures (e.g. which lockfile npm prefers). */
  notes: string[];
  /**
   * Things the user should look at that do not fail verification: a pinned namespace whose
   * packages are signed by a publisher key the last receipt did not have (a key the registry
   * enrolled since: `countersign monitor <namespace>` shows when, and by which logged statement).
   */
  warnings: string[];
  /** The receipt written for the runtime hook, when verification passed. */
  receipt?: string;
}

export interface VerifyOptions {
  dir: string;
  pinsPath: string;
  lockfiles: string[];
  token?: string | undefined;
  /** Write countersign-receipt.json when everything passes (default true). */
  receipt?: boolean;
  /** Packages checked against a registry so far, of how many (for the progress line). */
  onProgress?: (done: number, total: number) => void;
}

/** The registry base of a tarball URL, `https://host/path/@s/n/-/n-1.0.0.tgz` → `https://host/path`. */
export function registryOfTarball(resolved: string | undefined, name: string): string | undefined {
  if (!resolved || !/^https?:\/\//.test(resolved)) return undefined;
  for (const marker of [`/${name}/-/`, `/${name.replace("/", "%2f")}/-/`, `/${name.replace("/", "%2F")}/-/`]) {
    const at = resolved.indexOf(marker);
    if (at > 0) return resolved.slice(0, at);
  }
  return undefined;
}

/** One report per distinct thing installed: the same entry in two lockfiles is judged once. */
const entryKey = (e: LockEntry) => [e.kind, e.name, e.version, e.integrity ?? "", [...e.installedAs].sort().join(","), e.resolved ?? ""].join("|");

function baseReport(entry: LockEntry, namespace: string): Omit<PackageReport, "status"> {
  return { name: entry.name, version: entry.version, namespace, lockfile: entry.lockfile, location: entry.location, installedAs: entry.installedAs, kind: entry.kind };
}

function lockfileNotes(lockfiles: string[]): string[] {
  const names = new Set(lockfiles.map((f) => f.split(/[\\/]/).pop()));
  const notes: string[] = [];
  if (names.has("npm-shrinkwrap.json") && names.has("package-lock.json")) notes.push("npm-shrinkwrap.json and package-lock.json are both present: npm uses npm-shrinkwrap.json and ignores package-lock.json; both were verified");
  return notes;
}

export async function verifyProject(options: VerifyOptions): Promise<ProjectReport> {
  const pins = loadPins(options.pinsPath);
  const read = lockfilePaths(options.dir, options.lockfiles);
  const entries = read.flatMap((path) => readLockfile(path));
  const lockfiles = [...new Set([...read, ...entries.map((e) => e.lockfile)])];

  // 1. Plan: judge every distinct entry by the pins.
  const unique = new Map<string, LockEntry>();
  for (const entry of entries) if (!unique.has(entryKey(entry))) unique.set(entryKey(entry), entry);
  const planned = [...unique.values()].map((entry) => planEntry(entry, pins));

  // 2. Provenance for everything that must be countersigned, once per name@version and bytes.
  const previous = await readReceipt(options.dir, { pins });
  const previousPublisher = new Map((previous?.packages ?? []).map((p) => [p.name, p.publisher]));
  const registries = new Map<Manager, (name: string) => string | undefined>();
  const configured = (manager: Manager, name: string) => {
    let lookup = registries.get(manager);
    if (!lookup) registries.set(manager, (lookup = configuredRegistry(options.dir, manager)));
    return lookup(name);
  };
  const requests: ProvenanceRequest[] = [];
  const requestOf = new Map<string, number>();
  const requestIndex = planned.map((plan) => {
    if (plan.status !== "check") return -1;
    const { entry } = plan;
    const fromManager = configured(entry.manager, entry.name);
    const key = `${specKey(entry)}#${plan.sha512 ?? `tarball from ${fromManager}`}#${plan.pin.url}`;
    let index = requestOf.get(key);
    if (index === undefined) {
      index = requests.push({
        spec: { name: entry.name, version: entry.version },
        namespace: plan.namespace,
        pin: plan.pin,
        sha512: plan.sha512,
        // bun records the tarball URL in `registry`, and "" for its configured default.
        locators: [registryOfTarball(entry.resolved, entry.name), registryOfTarball(entry.registry, entry.name), fromManager].filter((l): l is string => typeof l === "string" && /^https?:\/\//.test(l)),
        tarballFrom: plan.sha512 === undefined ? fromManager : undefined,
        previousPublisher: previousPublisher.get(entry.name),
      }) - 1;
      requestOf.set(key, index);
    }
    return index;
  });
  const outcomes = await findProvenance(requests, { policy: pins.policy, token: options.token, onProgress: options.onProgress });

  // 3. Report.
  const packages = planned.map((plan, i) => toReport(plan, outcomes[requestIndex[i]!]));
  const count = (status: PackageStatus) => packages.filter((p) => p.status === status).length;
  const summary = { total: packages.length, verified: count("verified"), unverified: count("unverified"), failed: count("failed"), unavailable: count("unavailable") };
  const exitCode = summary.failed > 0 ? EXIT.rejected : summary.unavailable > 0 ? EXIT.unavailable : EXIT.ok;
  const warnings = newPublisherKeys(previous, packages);
  const notes = lockfileNotes(lockfiles);
  // A registry's key rotation that verification followed: the pins follow it too (follow.ts).
  const followed = followedRotations(requests, outcomes);
  const { pins: updated, changes } = pinsFollowing(pins, followed);
  if (changes.length) {
    try {
      writePins(options.pinsPath, updated);
      for (const change of changes) notes.push(`${change}. ${options.pinsPath} was updated: review and commit it`);
    } catch (err) {
      for (const change of changes) notes.push(`${change}. ${options.pinsPath} could not be updated (${(err as Error).message}): set it so, and commit it`);
    }
  }
  const report: ProjectReport = { ok: exitCode === EXIT.ok, exitCode, pins: options.pinsPath, lockfiles, summary, namespaces: byNamespace(pins, packages), packages, notes, warnings };

  // 4. Receipt for the runtime phase.
  if (report.ok && options.receipt !== false) {
    const verdict = verdictFor(options.dir, options.pinsPath, read, { total: summary.total, verified: summary.verified, unverified: summary.unverified }, earliestExpiry(packages));
    report.receipt = await receiptFor(options.dir, pins, read, planned, outcomes, requestIndex, verdict);
  }
  return report;
}

/**
 * Publisher keys of pinned namespaces that the last receipt did not have in that namespace, one
 * warning per namespace and key (naming a package it signed). Only namespaces the last receipt
 * had verified packages in are compared: a namespace new to the project has no "before".
 */
export function newPublisherKeys(previous: Receipt | undefined, packages: PackageReport[]): string[] {
  if (!previous) return [];
  const known = new Map<string, Set<string>>();
  for (const p of previous.packages) {
    let keys = known.get(p.namespace);
    if (!keys) known.set(p.namespace, (keys = new Set()));
    keys.add(p.publisher);
  }
  const warned = new Set<string>();
  const warnings: string[] = [];
  for (const p of packages) {
    if (p.status !== "verified") continue;
    const keys = known.get(p.namespace);
    const keyid = p.verified!.publisher.keyid;
    if (!keys || keys.has(keyid) || warned.has(`${p.namespace} ${keyid}`)) continue;
    warned.add(`${p.namespace} ${keyid}`);
    warnings.push(`${p.namespace} has a publisher key the last receipt (${previous.createdAt}) did not: ${keyid}, which signed ${p.name}@${p.version}; check it was enrolled on purpose (countersign monitor ${p.namespace} lists the registry's logged enrolments)`);
  }
  return warnings;
}

/** When the first signed metadata a verified package relied on expires: the verdict is not reused past it. */
function earliestExpiry(packages: PackageReport[]): string | undefined {
  let earliest: string | undefined;
  for (const p of packages) if (p.metadata && (earliest === undefined || Date.parse(p.metadata.expires) < Date.parse(earliest))) earliest = p.metadata.expires;
  return earliest;
}

/** Counts by namespace; the order is pinned namespaces, then scopes, then unscoped names (each alphabetical). */
export function byNamespace(pins: Pins, packages: PackageReport[]): NamespaceReport[] {
  const counts = new Map<string, NamespaceReport>();
  for (const p of packages) {
    let entry = counts.get(p.namespace);
    if (!entry) {
      const { rule, matched } = resolvePin(pins, p.namespace);
      entry = { namespace: p.namespace, rule: rule.kind, matched, ...(rule.kind === "registry" ? { registry: rule.registry } : {}), total: 0, verified: 0, unverified: 0, failed: 0, unavailable: 0 };
      counts.set(p.namespace, entry);
    }
    entry.total++;
    entry[p.status]++;
  }
  const rank = (n: NamespaceReport) => (n.rule === "registry" ? 0 : n.namespace.startsWith("@") ? 1 : 2);
  return [...counts.values()].sort((a, b) => rank(a) - rank(b) || (a.namespace < b.namespace ? -1 : a.namespace > b.namespace ? 1 : 0));
}

function toReport(plan: Planned, outcome: ProvenanceOutcome | undefined): PackageReport {
  const { entry } = plan;
  switch (plan.status) {
    case "unverified":
      return { ...baseReport(entry, plan.namespace), status: "unverified", rule: plan.rule };
    case "failed":
      return { ...baseReport(entry, plan.failure.namespace), status: "failed", failure: plan.failure };
    case "check": {
      const base = { ...baseReport(entry, plan.namespace), registry: plan.pin.registry };
      if (!outcome) throw new Error("a planned check has no outcome");
      if (outcome.status === "verified") return { ...base, status: "verified", verified: outcome.verified, ...(outcome.log ? { log: outcome.log } : {}), ...(outcome.metadata ? { metadata: outcome.metadata } : {}) };
      if (outcome.status === "failed") return { ...base, status: "failed", failure: { ...outcome.failure, message: `${outcome.failure.message}, at ${entry.location} in ${entry.lockfile}` } };
      return { ...base, status: "unavailable", message: outcome.message };
    }
  }
}

async function receiptFor(dir: string, pins: Pins, lockfiles: string[], planned: Planned[], outcomes: ProvenanceOutcome[], requestIndex: number[], verdict: Receipt["verdict"]): Promise<string> {
  const namespaces = Object.entries(pins.namespaces)
    .filter(([ns, target]) => ns !== ANY_SCOPE && ns !== ANY_UNSCOPED && target in pins.registries)
    .map(([ns]) => ns);
  const seen = new Set<string>();
  const packages = planned.flatMap((plan, i) => {
    const outcome = outcomes[requestIndex[i]!];
    if (plan.status !== "check" || outcome?.status !== "verified") return [];
    const v = outcome.verified;
    const key = `${v.name}@${v.version}#${outcome.sha512}`;
    if (seen.has(key)) return [];
    seen.add(key);
    return [{ name: v.name, version: v.version, namespace: v.namespace, integrity: plan.entry.integrityOfTarball && plan.entry.integrity ? plan.entry.integrity : sriFromHex("sha512", outcome.sha512), publisher: v.publisher.keyid, registry: v.registry.keyid, ...(v.attributes.files ? { files: v.attributes.files } : {}) }];
  });
  return writeReceipt(dir, lockfiles, namespaces, packages, verdict);
}
