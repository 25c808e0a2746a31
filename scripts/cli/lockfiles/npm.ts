/**
 * @module
 * npm's lockfiles, package-lock.json and npm-shrinkwrap.json, lockfileVersion 2 and 3 (npm 7+).
 *
 * Every `node_modules/…` key is one installed copy, installed as the name after the key's last
 * `node_modules/` — whatever its `name` field says. Both are reported: `name` is set for aliases,
 * and by an attacker who puts an unpinned package at a pinned path. Links (`link: true`: `file:`
 * directories and workspaces) are entries too; keys without `node_modules/` are folders (the
 * project itself, workspaces, link targets) and only fill in the name and version of the links
 * that point at them. npm's lockfile does not mark a remote tarball as such: an http(s) `resolved`
 * is "registry" unless some package's dependency spec for that name is a URL.
 */

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import * as z from "zod/mini";
import { installedNameOfNpmPath } from "./names.js";
import { entryProblem, fileProblem, quote, readText, validate } from "./problems.js";
import { isArchive, isGitUrl, kindOfSpec } from "./specs.js";
import type { LockEntry, SourceKind } from "./types.js";
import { isWorkspacePath, workspacePatternsOf } from "./workspaces.js";

/** In the order npm prefers them: with both present, npm installs from npm-shrinkwrap.json only. */
export const NPM_LOCKFILES = ["npm-shrinkwrap.json", "package-lock.json"] as const;

/** The lockfile `npm ci` / `npm install` would use in `dir`: npm-shrinkwrap.json wins over package-lock.json. */
export function npmLockfileInUse(dir: string): string | undefined {
  return NPM_LOCKFILES.map((name) => join(dir, name)).find((path) => existsSync(path));
}

const DependencyMap = z.optional(z.record(z.string(), z.string()));

const NpmPackage = z.object({
  name: z.optional(z.string()),
  version: z.optional(z.string()),
  resolved: z.optional(z.string()),
  integrity: z.optional(z.string()),
  link: z.optional(z.boolean()),
  inBundle: z.optional(z.boolean()),
  dependencies: DependencyMap,
  optionalDependencies: DependencyMap,
  devDependencies: DependencyMap,
  peerDependencies: DependencyMap,
});
type NpmPackage = z.infer<typeof NpmPackage>;

const NpmLock = z.object({ packages: z.record(z.string(), NpmPackage) });

function parseJson(path: string): unknown {
  try {
    return JSON.parse(readText(path));
  } catch (error) {
    if (error instanceof SyntaxError) throw fileProblem(path, "is not valid JSON");
    throw error;
  }
}

function checkVersion(path: string, json: unknown): void {
  const version = typeof json === "object" && json !== null && "lockfileVersion" in json ? json.lockfileVersion : undefined;
  if (version === 1) throw fileProblem(path, "lockfileVersion 1 (written by npm 6 or older) is not supported: re-lock with npm 7 or later (npm install --lockfile-version 3)");
  if (version !== 2 && version !== 3) throw fileProblem(path, `lockfileVersion ${JSON.stringify(version) ?? "(none)"} is not supported (npm 7+ writes 2 or 3)`);
}

/** Every dependency spec any package in the lockfile declares, by the name it declares it under. */
function specsByName(packages: Record<string, NpmPackage>): Map<string, string[]> {
  const specs = new Map<string, string[]>();
  for (const pkg of Object.values(packages)) {
    for (const map of [pkg.dependencies, pkg.optionalDependencies, pkg.devDependencies, pkg.peerDependencies]) {
      for (const [name, spec] of Object.entries(map ?? {})) specs.set(name, [...(specs.get(name) ?? []), spec]);
    }
  }
  return specs;
}

/** The workspace patterns: from the lockfile's root entry (v3), else from package.json next to it. */
function workspacePatterns(path: string, json: unknown): string[] {
  const root = typeof json === "object" && json !== null && "packages" in json && typeof json.packages === "object" && json.packages !== null && "" in json.packages ? json.packages[""] : undefined;
  const fromLock = workspacePatternsOf(root);
  if (fromLock.length) return fromLock;
  try {
    return workspacePatternsOf(JSON.parse(readFileSync(join(dirname(path), "package.json"), "utf8")));
  } catch {
    return [];
  }
}

export function readNpmLockfile(path: string): LockEntry[] {
  const json = parseJson(path);
  checkVersion(path, json);
  const { packages } = validate(NpmLock, json, path, "lockfile");
  const workspaces = workspacePatterns(path, json);
  const specs = specsByName(packages);
  const entries: LockEntry[] = [];

  for (const [key, pkg] of Object.entries(packages)) {
    if (!key.includes("node_modules/")) continue; // "" is the project; other folders are link targets
    const location = `packages[${quote(key)}]`;
    const installedAs = installedNameOfNpmPath(key);
    if (!installedAs) throw entryProblem(path, location, "is not a node_modules/<package name> path");
    const base = { lockfile: path, manager: "npm" as const, location, installedAs: [installedAs], integrityOfTarball: true };

    if (pkg.link === true) {
      if (!pkg.resolved) throw entryProblem(path, location, "is a link without a target (resolved)");
      const target = packages[pkg.resolved];
      const kind = isWorkspacePath(pkg.resolved, workspaces) ? "workspace" : "link";
      entries.push({ ...base, kind, name: target?.name ?? pkg.name ?? installedAs, version: target?.version ?? pkg.version ?? "", resolved: pkg.resolved });
      continue;
    }
    if (pkg.version === undefined) throw entryProblem(path, location, "has no version");
    const kind = pkg.inBundle === true ? "bundled" : kindOfResolved(pkg.resolved, specs.get(installedAs) ?? []);
    if (!kind) throw entryProblem(path, location, `has a resolved source this reader does not know: ${quote(pkg.resolved ?? "")}`);
    entries.push({
      ...base,
      kind,
      name: pkg.name ?? installedAs,
      version: pkg.version,
      ...(pkg.integrity !== undefined ? { integrity: pkg.integrity } : {}),
      ...(pkg.resolved !== undefined ? { resolved: pkg.resolved } : {}),
    });
  }
  return entries;
}

/** Where an installed (not linked, not bundled) entry's bytes come from, by its `resolved`. */
function kindOfResolved(resolved: string | undefined, specs: string[]): SourceKind | undefined {
  if (resolved === undefined) return "registry"; // npm omits registry URLs (omit-lockfile-registry-resolved)
  if (isGitUrl(resolved)) return "git";
  if (resolved.startsWith("file:")) return isArchive(resolved) ? "tarball" : "directory"; // a copied directory: install-links
  if (/^https?:\/\//i.test(resolved)) return specs.some((spec) => kindOfSpec(spec, "npm") === "tarball") ? "tarball" : "registry";
  return undefined;
}
