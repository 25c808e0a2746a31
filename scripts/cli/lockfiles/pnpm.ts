/**
 * @module
 * pnpm-lock.yaml, lockfileVersion 6.0 (pnpm 8) and 9.0 (pnpm 9 and later).
 *
 * One entry per `packages` key: its kind comes from `resolution` (integrity only, or a registry
 * `tarball`: "registry"; `tarball` under a URL or `file:` key: "tarball"; `type: directory`;
 * `type: git`), made "patch" by `patchedDependencies` / `(patch_hash=…)`. pnpm puts each package
 * in its own store folder under its real name and links it into every dependent under the name
 * the dependent uses, so it is installed as its real name plus every alias an importer or a
 * snapshot (v6: a package) depends on it by. `link:` references (workspaces and links) have no
 * `packages` key and are entries of their own; bundled dependencies are listed by name only.
 * A reference to a package the lockfile does not hold is an error, not a skip.
 */

import { dirname, join } from "node:path";
import semver from "semver";
import { parse as parseYaml } from "yaml";
import * as z from "zod/mini";
import { isPackageName, splitAtName } from "./names.js";
import { readPackageJson } from "./package-json.js";
import { entryProblem, fileProblem, quote, readText, validate } from "./problems.js";
import type { LockEntry, SourceKind } from "./types.js";
import { normalizePath } from "./workspaces.js";

const References = z.optional(z.nullable(z.record(z.string(), z.string())));
const ImporterDependencies = z.optional(z.nullable(z.record(z.string(), z.union([z.string(), z.object({ specifier: z.optional(z.string()), version: z.string() })]))));
const Importer = z.object({ dependencies: ImporterDependencies, devDependencies: ImporterDependencies, optionalDependencies: ImporterDependencies });
type Importer = z.infer<typeof Importer>;

const PackageInfo = z.object({
  resolution: z.object({
    integrity: z.optional(z.string()),
    tarball: z.optional(z.string()),
    directory: z.optional(z.string()),
    type: z.optional(z.string()),
    commit: z.optional(z.string()),
    repo: z.optional(z.string()),
  }),
  name: z.optional(z.string()),
  version: z.optional(z.string()),
  patched: z.optional(z.boolean()),
  bundledDependencies: z.optional(z.union([z.array(z.string()), z.boolean()])),
  dependencies: References,
  optionalDependencies: References,
});
type PackageInfo = z.infer<typeof PackageInfo>;

const PnpmLock = z.object({
  lockfileVersion: z.union([z.string(), z.number()]),
  importers: z.optional(z.nullable(z.record(z.string(), Importer))),
  packages: z.optional(z.nullable(z.record(z.string(), z.nullable(PackageInfo)))),
  snapshots: z.optional(z.nullable(z.record(z.string(), z.nullable(z.object({ dependencies: References, optionalDependencies: References }))))),
  patchedDependencies: z.optional(z.nullable(z.record(z.string(), z.unknown()))),
  // lockfileVersion 6.0 without workspaces: the root importer's fields at the top level.
  dependencies: ImporterDependencies,
  devDependencies: ImporterDependencies,
  optionalDependencies: ImporterDependencies,
});

/** One `packages` key and what the rest of the lockfile says about it. */
interface LockedPackage {
  key: string;
  name: string;
  /** What follows `name@` in the key: a version, or `file:…`, a URL, … */
  ref: string;
  info: PackageInfo;
  aliases: Set<string>;
  patched: boolean;
}

interface LinkReference {
  depName: string;
  /** The link target, relative to the lockfile's folder. */
  target: string;
  location: string;
}

const stripSuffixes = (ref: string): string => (ref.includes("(") ? ref.slice(0, ref.indexOf("(")) : ref);
const PATCH_HASH = "(patch_hash=";

function parseLock(path: string) {
  let json: unknown;
  try {
    json = parseYaml(readText(path), { maxAliasCount: 10_000 });
  } catch (error) {
    if (error instanceof Error && error.name.startsWith("YAML")) throw fileProblem(path, `is not valid YAML (${error.message.split("\n")[0]})`);
    throw error;
  }
  if (typeof json !== "object" || json === null) throw fileProblem(path, "is not a pnpm lockfile (not a YAML mapping)");
  const version = "lockfileVersion" in json ? String(json.lockfileVersion) : "(none)";
  if (!/^(6|9)\.\d+$/.test(version)) throw fileProblem(path, `lockfileVersion ${version} is not supported (pnpm 8 writes 6.0, pnpm 9 and later 9.0: re-lock with a current pnpm)`);
  return { lock: validate(PnpmLock, json, path, "lockfile"), v6: version.startsWith("6.") };
}

/** A `packages` key as name and ref: `name@ref` (9.0), `/name@version(suffixes)` or `file:…` with a `name` field (6.0). */
function splitPackageKey(key: string, info: PackageInfo, v6: boolean): { name: string; ref: string } | undefined {
  if (!v6) {
    const split = splitAtName(key);
    return split && { name: split.name, ref: split.rest };
  }
  if (!key.startsWith("/")) return info.name ? { name: info.name, ref: key } : undefined;
  const split = splitAtName(stripSuffixes(key.slice(1)));
  return split && { name: split.name, ref: key.slice(1 + split.name.length + 1) };
}

type Dependent = { dependencies?: Record<string, string> | null; optionalDependencies?: Record<string, string> | null } | null;

export function readPnpmLockfile(path: string): LockEntry[] {
  const { lock, v6 } = parseLock(path);
  const importers: Record<string, Importer> = lock.importers ?? { ".": lock };

  const packages = new Map<string, LockedPackage>();
  for (const [key, info] of Object.entries(lock.packages ?? {})) {
    if (!info) throw entryProblem(path, `packages[${quote(key)}]`, "is empty");
    const split = splitPackageKey(key, info, v6);
    if (!split) throw entryProblem(path, `packages[${quote(key)}]`, "is not a name@version key this reader knows");
    packages.set(key, { key, name: info.name ?? split.name, ref: split.ref, info, aliases: new Set(), patched: key.includes(PATCH_HASH) || info.patched === true });
  }

  /** The `packages` key a dependency reference means: `1.0.0`, an alias `real@1.0.0`, `file:…`, … */
  const lookup = (depName: string, ref: string): LockedPackage | undefined => {
    const bare = stripSuffixes(ref);
    const candidates = v6 ? [`/${depName}@${ref}`, ref, `/${depName}@${bare}`, bare] : [`${depName}@${bare}`, bare];
    for (const candidate of candidates) {
      const found = packages.get(candidate);
      if (found) return found;
    }
    return undefined;
  };

  const links: LinkReference[] = [];
  const reference = (depName: string, ref: string, location: string, fromFolder: string) => {
    if (!isPackageName(depName)) throw entryProblem(path, location, "is not a package name");
    if (ref.startsWith("link:")) return void links.push({ depName, target: normalizePath(join(fromFolder, ref.slice("link:".length))), location });
    const target = lookup(depName, ref);
    if (!target) throw entryProblem(path, location, `refers to ${quote(ref)}, which has no entry in packages`);
    target.aliases.add(depName);
    if (ref.includes(PATCH_HASH)) target.patched = true;
  };

  for (const [folder, importer] of Object.entries(importers)) {
    for (const group of ["dependencies", "devDependencies", "optionalDependencies"] as const) {
      for (const [depName, dep] of Object.entries(importer[group] ?? {})) {
        reference(depName, typeof dep === "string" ? dep : dep.version, `importers[${quote(folder)}].${group}[${quote(depName)}]`, folder);
      }
    }
  }
  // Packages depend on packages from `snapshots` (9.0) or from `packages` itself (6.0).
  const dependents: [string, Dependent][] = v6
    ? [...packages.values()].map((p) => [`packages[${quote(p.key)}]`, p.info])
    : Object.entries(lock.snapshots ?? {}).map(([key, snapshot]) => {
        const base = packages.get(stripSuffixes(key));
        if (!base) throw entryProblem(path, `snapshots[${quote(key)}]`, "has no entry in packages");
        if (key.includes(PATCH_HASH)) base.patched = true;
        return [`snapshots[${quote(key)}]`, snapshot];
      });
  for (const [where, dependent] of dependents) {
    for (const group of ["dependencies", "optionalDependencies"] as const) {
      for (const [depName, ref] of Object.entries(dependent?.[group] ?? {})) reference(depName, ref, `${where}.${group}[${quote(depName)}]`, ".");
    }
  }
  markPatchedDependencies(packages, Object.keys(lock.patchedDependencies ?? {}));

  const entries: LockEntry[] = [];
  for (const pkg of packages.values()) entries.push(packageEntry(path, pkg, v6), ...bundledEntries(path, pkg, lock.snapshots));
  entries.push(...linkEntries(path, dirname(path), links, new Set(Object.keys(importers).map(normalizePath))));
  return entries;
}

/** `patchedDependencies` keys: `name`, `name@version` or `name@range`. */
function markPatchedDependencies(packages: Map<string, LockedPackage>, keys: string[]): void {
  for (const key of keys) {
    const split = splitAtName(key);
    const name = split?.name ?? key;
    for (const pkg of packages.values()) {
      const version = pkg.info.version ?? stripSuffixes(pkg.ref);
      if (pkg.name === name && (!split || split.rest === version || (semver.valid(version) !== null && semver.satisfies(version, split.rest)))) pkg.patched = true;
    }
  }
}

function packageEntry(path: string, pkg: LockedPackage, v6: boolean): LockEntry {
  const location = `packages[${quote(pkg.key)}]`;
  const { resolution } = pkg.info;
  // A registry package's key is name@version (v6: /name@version); every other source puts a
  // `file:`, a URL or a path after the name.
  const fromRegistry = v6 ? pkg.key.startsWith("/") : !/[:/]/.test(pkg.ref);
  let kind: SourceKind;
  let resolved: string | undefined = resolution.tarball;
  if (resolution.type === "directory") [kind, resolved] = ["directory", resolution.directory];
  else if (resolution.type === "git") [kind, resolved] = ["git", `${resolution.repo ?? ""}#${resolution.commit ?? ""}`];
  else if (resolution.type !== undefined) throw entryProblem(path, location, `has a resolution type this reader does not know: ${quote(resolution.type)}`);
  else if (resolution.tarball !== undefined && (resolution.tarball.startsWith("file:") || !fromRegistry)) kind = /^https:\/\/codeload\.github\.com\//.test(resolution.tarball) ? "git" : "tarball";
  else if (fromRegistry && (resolution.integrity !== undefined || resolution.tarball !== undefined)) kind = "registry";
  else throw entryProblem(path, location, "has a resolution this reader does not know (no integrity, tarball, directory or git)");
  if (pkg.patched && kind === "registry") kind = "patch";
  const name = pkg.info.name ?? pkg.name;
  return {
    lockfile: path,
    manager: "pnpm",
    location,
    installedAs: [...new Set([name, ...pkg.aliases])],
    kind,
    name,
    // pnpm records no version for a directory: its package.json, when there, says.
    version: pkg.info.version ?? (fromRegistry ? stripSuffixes(pkg.ref) : kind === "directory" && resolved ? (readPackageJson(join(dirname(path), resolved, "package.json")).version ?? "") : ""),
    ...(resolution.integrity !== undefined ? { integrity: resolution.integrity } : {}),
    integrityOfTarball: true,
    ...(resolved !== undefined ? { resolved } : {}),
  };
}

/** Bundled dependencies ship inside the package's tarball; pnpm records their names only. */
function bundledEntries(path: string, pkg: LockedPackage, snapshots: Record<string, Dependent> | null | undefined): LockEntry[] {
  const bundled = pkg.info.bundledDependencies;
  if (!bundled) return [];
  const names =
    bundled === true
      ? [...new Set([...Object.keys(pkg.info.dependencies ?? {}), ...Object.entries(snapshots ?? {}).flatMap(([key, s]) => (stripSuffixes(key) === pkg.key ? Object.keys(s?.dependencies ?? {}) : []))])]
      : bundled;
  return names.map((name) => {
    const location = `packages[${quote(pkg.key)}].bundledDependencies[${quote(name)}]`;
    if (!isPackageName(name)) throw entryProblem(path, location, "is not a package name");
    return { lockfile: path, manager: "pnpm", location, installedAs: [name], kind: "bundled", name, version: "", integrityOfTarball: true };
  });
}

/** `link:` references: to another importer a "workspace", elsewhere a "link"; one entry per target. */
function linkEntries(path: string, root: string, links: LinkReference[], importerFolders: Set<string>): LockEntry[] {
  const byTarget = new Map<string, LockEntry>();
  for (const link of links) {
    const known = byTarget.get(link.target);
    if (known) {
      if (!known.installedAs.includes(link.depName)) known.installedAs.push(link.depName);
      continue;
    }
    const manifest = readPackageJson(join(root, link.target, "package.json"));
    byTarget.set(link.target, {
      lockfile: path,
      manager: "pnpm",
      location: link.location,
      installedAs: [link.depName],
      kind: importerFolders.has(link.target) ? "workspace" : "link",
      name: manifest.name ?? link.depName,
      version: manifest.version ?? "",
      integrityOfTarball: true,
      resolved: link.target,
    });
  }
  return [...byTarget.values()];
}
