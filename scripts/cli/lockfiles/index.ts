/**
 * @module
 * What a project locked, from every lockfile a package manager would install from: npm
 * (npm-shrinkwrap.json, package-lock.json), pnpm (pnpm-lock.yaml), yarn 1 and 2+ (yarn.lock) and
 * bun (bun.lock; bun.lockb is refused). Each reader reports every entry as a `LockEntry` — the
 * names it is installed as, its own name, and where its bytes come from — and never drops one;
 * the project's package.json files are then cross-checked for non-registry dependencies the
 * lockfile leaves out. Several lockfiles in one folder are all read: the verifier judges what
 * any of those tools would install. (With both npm lockfiles present npm itself uses only
 * npm-shrinkwrap.json: see `npmLockfileInUse`.)
 */

import { basename, dirname } from "node:path";
import { LOCKFILES } from "../lockfile-names.js";
import { bunBinaryLockfileError, readBunLockfile } from "./bun.js";
import { manifestEntries } from "./manifests.js";
import { readNpmLockfile } from "./npm.js";
import { lockfilePaths } from "./paths.js";
import { readPnpmLockfile } from "./pnpm.js";
import { fileProblem } from "./problems.js";
import type { LockEntry, Manager } from "./types.js";
import { readYarnLock } from "./yarn.js";

export { LOCKFILES };
export type { LockEntry, Manager, SourceKind } from "./types.js";
export { readBunLockfile } from "./bun.js";
export { manifestEntries } from "./manifests.js";
export { NPM_LOCKFILES, npmLockfileInUse, readNpmLockfile } from "./npm.js";
export { readPnpmLockfile } from "./pnpm.js";
export { configuredRegistry } from "./registries.js";
export { lockfilePaths } from "./paths.js";
export { readYarnLockfile } from "./yarn.js";

/** The entries of one lockfile (no package.json cross-check) and the manager that wrote it. */
export function readLockfileOnly(path: string): { manager: Manager; entries: LockEntry[] } {
  const name = basename(path);
  if (name === "bun.lockb" || name.endsWith(".lockb")) throw bunBinaryLockfileError(path);
  if (name === "yarn.lock") return readYarnLock(path);
  if (name === "bun.lock") return { manager: "bun", entries: readBunLockfile(path) };
  if (name.endsWith(".yaml") || name.endsWith(".yml")) return { manager: "pnpm", entries: readPnpmLockfile(path) };
  if (name.endsWith(".json")) return { manager: "npm", entries: readNpmLockfile(path) };
  throw fileProblem(path, `is not a lockfile this reader knows (${LOCKFILES.join(", ")})`);
}

/** One lockfile's entries, plus what the package.json files next to it declare that it leaves out. */
export function readLockfile(path: string): LockEntry[] {
  const { manager, entries } = readLockfileOnly(path);
  return [...entries, ...manifestEntries(dirname(path), manager, entries)];
}

/** Every entry of the lockfiles to verify (see `lockfilePaths`). */
export function readLockfiles(dir: string, given: string[]): LockEntry[] {
  return lockfilePaths(dir, given).flatMap((path) => readLockfile(path));
}
