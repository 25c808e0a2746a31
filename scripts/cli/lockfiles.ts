/**
 * @module
 * What a project locked: every package (name, version, integrity, and where it came from when
 * the lockfile says) from `package-lock.json` (lockfileVersion 2 or 3, npm 7+) and
 * `pnpm-lock.yaml` (lockfileVersion 6 or 9). Lockfiles are input from the repository, so they
 * are parsed defensively: anything unexpected is an error naming the file, not a guess.
 */

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { CliError, EXIT } from "./errors.js";
import { LOCKFILES } from "./lockfile-names.js";

export { LOCKFILES };

export interface LockedPackage {
  name: string;
  version: string;
  /** SRI string as written (may list several algorithms), or undefined. */
  integrity?: string;
  /** The tarball URL, when the lockfile records one. */
  resolved?: string;
  /** Inside another package's tarball (npm bundleDependencies): covered by that tarball's integrity. */
  bundled?: boolean;
  /** Where it came from in the lockfile, for messages. */
  lockfile: string;
}


function bad(file: string, problem: string): CliError {
  return new CliError(`${file}: ${problem}`, EXIT.usage);
}

export function readNpmLockfile(path: string): LockedPackage[] {
  let lock: { lockfileVersion?: unknown; packages?: Record<string, Record<string, unknown>> };
  try {
    lock = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw bad(path, "not valid JSON");
  }
  if (lock.lockfileVersion !== 2 && lock.lockfileVersion !== 3) throw bad(path, `lockfileVersion ${String(lock.lockfileVersion)} is not supported (npm 7+ writes 2 or 3: run npm install once with a current npm)`);
  if (typeof lock.packages !== "object" || lock.packages === null) throw bad(path, "has no packages section");
  const found: LockedPackage[] = [];
  for (const [key, entry] of Object.entries(lock.packages)) {
    const at = key.lastIndexOf("node_modules/");
    // "" is the project itself; other keys without node_modules/ are workspace folders; links point at them.
    if (at < 0 || entry.link === true) continue;
    const name = typeof entry.name === "string" ? entry.name : key.slice(at + "node_modules/".length);
    if (typeof entry.version !== "string") throw bad(path, `${key} has no version`);
    found.push({
      name,
      version: entry.version,
      ...(typeof entry.integrity === "string" ? { integrity: entry.integrity } : {}),
      ...(typeof entry.resolved === "string" ? { resolved: entry.resolved } : {}),
      ...(entry.inBundle === true ? { bundled: true } : {}),
      lockfile: path,
    });
  }
  return found;
}

/** `@acme/utils@1.0.0`, `/@acme/utils@1.0.0(react@18.0.0)` (v6) → name and version. */
function splitPnpmKey(key: string): { name: string; version: string } | undefined {
  const bare = key.replace(/^\//, "").replace(/\(.*$/, "");
  const at = bare.lastIndexOf("@");
  if (at <= 0) return undefined;
  return { name: bare.slice(0, at), version: bare.slice(at + 1) };
}

export function readPnpmLockfile(path: string): LockedPackage[] {
  let lock: { lockfileVersion?: unknown; packages?: Record<string, { resolution?: Record<string, unknown>; version?: unknown; name?: unknown }> | null };
  try {
    lock = parseYaml(readFileSync(path, "utf8"), { maxAliasCount: 1000 });
  } catch {
    throw bad(path, "not valid YAML");
  }
  const version = String(lock?.lockfileVersion ?? "");
  if (!/^(6|9)\./.test(version)) throw bad(path, `lockfileVersion ${version || "(none)"} is not supported (pnpm 8+ writes 6.0 or 9.0)`);
  const found: LockedPackage[] = [];
  for (const [key, entry] of Object.entries(lock.packages ?? {})) {
    const split = splitPnpmKey(key);
    if (!split) throw bad(path, `cannot read package key "${key.slice(0, 100)}"`);
    const resolution = entry?.resolution ?? {};
    found.push({
      name: typeof entry?.name === "string" ? entry.name : split.name,
      version: typeof entry?.version === "string" ? entry.version : split.version,
      ...(typeof resolution.integrity === "string" ? { integrity: resolution.integrity } : {}),
      ...(typeof resolution.tarball === "string" ? { resolved: resolution.tarball } : {}),
      lockfile: path,
    });
  }
  return found;
}

/** The lockfiles to verify: the ones given, or every known lockfile present in `dir`. */
export function readLockfiles(dir: string, given: string[]): LockedPackage[] {
  const paths = given.length ? given : LOCKFILES.map((f) => join(dir, f)).filter((p) => existsSync(p));
  if (paths.length === 0) throw new CliError(`no lockfile in ${dir} (looked for ${LOCKFILES.join(", ")}): install first, or pass --lockfile`, EXIT.usage);
  return paths.flatMap((path) => {
    if (!existsSync(path)) throw new CliError(`${path} does not exist`, EXIT.usage);
    return path.endsWith(".yaml") || path.endsWith(".yml") ? readPnpmLockfile(path) : readNpmLockfile(path);
  });
}
