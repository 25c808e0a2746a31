/**
 * @module
 * countersign as pnpm hooks: `.pnpmfile.cjs` with `module.exports = require("countersign/pnpmfile")`,
 * or a copy of the self-contained dist/pnpmfile.cjs (then a fresh clone's first install already
 * runs it, and pnpm records its checksum in pnpm-lock.yaml). pnpm runs the hooks in a Node worker
 * process; both may be async, and one that throws aborts the install.
 *
 * - `readPackage(manifest)` is the enforcement point. pnpm calls it for every manifest while it
 *   resolves — the project's own and every registry version it picked, with the `dist.integrity`
 *   it will download and check against — before the package is linked into node_modules or any
 *   script runs. countersign refuses there: a registry version of a pinned namespace that is not
 *   countersigned by a pinned key for exactly that name, version and integrity; a dependency on a
 *   name in a pinned namespace that is an alias to another package, a link, a file, git or URL
 *   source; a name under a "reject" rule; and everything when countersign.json is missing or
 *   invalid (fail closed).
 * - `afterAllResolved(lockfile)` then judges the whole resolved lockfile exactly as
 *   `countersign verify` judges pnpm-lock.yaml, so that what pnpm writes is what verify accepts.
 *   pnpm 12 calls it only after it has linked the packages (and run allowed build scripts), so
 *   it is a second line, not the gate: it fails the install and keeps the lockfile unwritten.
 *
 * When pnpm installs from an up-to-date lockfile without resolving, `readPackage` sees no
 * registry manifests: only `afterAllResolved` judges, after linking (and `--frozen-lockfile`
 * refuses a pnpmfile the lockfile does not record). Run `countersign verify` before such installs.
 */

import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describeFailure, type Pins } from "../../src/core/index.js";
import { readLockfile } from "../cli/lockfiles/index.js";
import { splitAtName } from "../cli/lockfiles/names.js";
import { isArchive, isGitSpec } from "../cli/lockfiles/specs.js";
import type { LockEntry, SourceKind } from "../cli/lockfiles/types.js";
import { planEntry } from "../cli/verification/plan.js";
import { checkEntries, projectDir, projectPins, refusalSummary, type Refusal } from "./check.js";

/** What pnpm passes as the hooks' context. */
interface HookContext {
  log?: (message: string) => void;
}

/** The parts of a manifest the hook reads (pnpm's, from the registry: check before use). */
interface Manifest {
  name?: unknown;
  version?: unknown;
  dist?: { integrity?: unknown; tarball?: unknown };
  dependencies?: unknown;
  optionalDependencies?: unknown;
  devDependencies?: unknown;
}

const WHERE = "pnpm's resolution";

/** Thrown to abort the install: pnpm prints its message (and no stack trace of ours). */
export class CountersignRefusal extends Error {
  readonly code = "ERR_COUNTERSIGN_REFUSED";
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, " "));
    this.stack = this.message;
  }
}

function refuse(refusal: string): never {
  throw new CountersignRefusal(refusal.startsWith("countersign:") ? refusal : `countersign: ${refusal}`);
}

/** The pins, read once per project per pnpm run (the hook worker lives as long as the install). */
const pinsCache = new Map<string, Pins>();
function pinsOf(dir: string): Pins {
  let pins = pinsCache.get(dir);
  if (!pins) {
    try {
      pins = projectPins(dir);
    } catch (err) {
      return refuse((err as Error).message);
    }
    pinsCache.set(dir, pins);
  }
  return pins;
}

/** How a dependency spec gets its code: from the registry under `name`, or from elsewhere. */
function specSource(key: string, spec: string): { kind: SourceKind; name: string; resolved?: string } {
  if (spec.startsWith("npm:")) return { kind: "registry", name: splitAtName(spec.slice(4))?.name ?? spec.slice(4) };
  if (spec.startsWith("workspace:")) return { kind: "workspace", name: key, resolved: spec };
  if (spec.startsWith("link:")) return { kind: "link", name: key, resolved: spec };
  if (spec.startsWith("file:") || /^(?:\.{1,2}\/|\/|~\/)/.test(spec)) return { kind: isArchive(spec) ? "tarball" : "directory", name: key, resolved: spec };
  if (isGitSpec(spec)) return { kind: "git", name: key, resolved: spec };
  if (/^https?:\/\//i.test(spec)) return { kind: "tarball", name: key, resolved: spec };
  return { kind: "registry", name: key };
}

const SPEC_REFUSALS = new Set<string>(["unpinned_namespace", "alias_into_pinned_namespace", "not_a_registry_package"]);

/** A manifest's dependencies that the pins refuse before anything is resolved: aliases, sources, rejected names. */
function dependencyRefusals(manifest: Manifest, pins: Pins, root: boolean): string[] {
  const refusals: string[] = [];
  const groups = root ? (["dependencies", "optionalDependencies", "devDependencies"] as const) : (["dependencies", "optionalDependencies"] as const);
  const owner = typeof manifest.name === "string" ? `${manifest.name}${typeof manifest.version === "string" ? `@${manifest.version}` : ""}` : "the project";
  for (const group of groups) {
    const deps = manifest[group];
    if (typeof deps !== "object" || deps === null) continue;
    for (const [key, spec] of Object.entries(deps as Record<string, unknown>)) {
      if (typeof spec !== "string") continue;
      const source = specSource(key, spec);
      const entry: LockEntry = {
        lockfile: WHERE,
        manager: "pnpm",
        location: `${group}[${JSON.stringify(key)}] of ${owner}`,
        installedAs: [key],
        kind: source.kind,
        name: source.name,
        version: spec,
        integrityOfTarball: true,
        ...(source.resolved ? { resolved: source.resolved } : {}),
      };
      const plan = planEntry(entry, pins);
      // A range or version at a pinned name is checked when pnpm resolves it (readPackage of that version):
      // here only what no resolution can fix — a rejected name, an alias into a pinned name, a non-registry source.
      if (plan.status === "failed" && SPEC_REFUSALS.has(plan.failure.code)) refusals.push(describeFailure(plan.failure));
    }
  }
  return refusals;
}

/** Verdicts already given in this run, by name@version#integrity. */
const verdicts = new Map<string, Promise<Refusal[]>>();

export async function readPackage<T>(manifest: T): Promise<T> {
  const dir = projectDir();
  const pins = pinsOf(dir);
  const pkg = manifest as Manifest;
  const dist = typeof pkg.dist === "object" && pkg.dist !== null ? pkg.dist : undefined;
  const refusals = dependencyRefusals(pkg, pins, dist === undefined);
  if (refusals.length > 0) refuse(refusals[0]! + (refusals.length > 1 ? ` (and ${refusals.length - 1} more)` : ""));
  if (dist === undefined || typeof pkg.name !== "string" || typeof pkg.version !== "string") return manifest;

  const integrity = typeof dist.integrity === "string" ? dist.integrity : undefined;
  const key = `${pkg.name}@${pkg.version}#${integrity ?? ""}`;
  let verdict = verdicts.get(key);
  if (!verdict) {
    const entry: LockEntry = {
      lockfile: WHERE,
      manager: "pnpm",
      location: `${pkg.name}@${pkg.version}`,
      installedAs: [pkg.name],
      kind: "registry",
      name: pkg.name,
      version: pkg.version,
      integrityOfTarball: true,
      ...(integrity ? { integrity } : {}),
      ...(typeof dist.tarball === "string" ? { resolved: dist.tarball } : {}),
    };
    verdicts.set(key, (verdict = checkEntries(dir, pins, [entry])));
  }
  let found: Refusal[];
  try {
    found = await verdict;
  } catch (err) {
    return refuse(`could not verify ${pkg.name}@${pkg.version}: ${(err as Error)?.message ?? String(err)}`);
  }
  if (found.length > 0) refuse(refusalSummary(found));
  return manifest;
}

/** The entries of the lockfile pnpm resolved, read by countersign's pnpm-lock.yaml reader. */
function entriesOf(dir: string, lockfile: unknown): LockEntry[] {
  // The reader resolves link: targets against the lockfile's folder, so the copy sits there.
  const path = join(dir, `.countersign-resolved-${process.pid}-${randomBytes(4).toString("hex")}.yaml`);
  writeFileSync(path, JSON.stringify(lockfile), { mode: 0o600 });
  try {
    return readLockfile(path).map((entry) => ({ ...entry, lockfile: WHERE }));
  } finally {
    rmSync(path, { force: true });
  }
}

export async function afterAllResolved<T>(lockfile: T, context?: HookContext): Promise<T> {
  const dir = projectDir();
  const pins = pinsOf(dir);
  let refusals: Refusal[];
  try {
    refusals = await checkEntries(dir, pins, entriesOf(dir, lockfile));
  } catch (err) {
    return refuse((err as Error)?.message ?? String(err));
  }
  if (refusals.length > 0) refuse(refusalSummary(refusals));
  context?.log?.("countersign: every package of a pinned namespace verified");
  return lockfile;
}

export const hooks = { readPackage, afterAllResolved };
