/**
 * @module
 * Package names, namespaces and versions.
 *
 * Names follow npm's rules for new packages (validate-npm-package-name), made stricter so that a
 * name is always a safe URL path and storage key:
 *
 * - at most 214 characters, all lowercase ASCII;
 * - `name` or `@scope/name`, each part made of `a-z 0-9 - . _` and starting with a letter or
 *   digit (npm forbids a leading `.` or `_`; we also forbid a leading `-`, which would collide
 *   with the registry's `/-/` routes);
 * - not `node_modules` or `favicon.ico`.
 *
 * A **namespace** is what a registry is authoritative for and what consumers pin: the scope
 * (`@acme`) for scoped names, and the package name itself for an unscoped name (so an internal
 * unscoped package such as `acme-billing` can be pinned one name at a time).
 *
 * Versions are strict SemVer 2.0 without build metadata, in their canonical form.
 */

import semverValid from "semver/functions/valid.js";

export const MAX_NAME_LENGTH = 214;
/** In pins and policies: any scope not otherwise listed, and any unscoped name. */
export const ANY_SCOPE = "@*";
export const ANY_UNSCOPED = "*";
export const MAX_VERSION_LENGTH = 256;

const PART = "[a-z0-9][a-z0-9._-]*";
const NAME = new RegExp(`^(?:@${PART}/)?${PART}$`);
const SCOPE = new RegExp(`^@${PART}$`);
const RESERVED = new Set(["node_modules", "favicon.ico"]);

export type NameCheck = { ok: true; name: string; namespace: string; scope?: string } | { ok: false; reason: string };

export function checkPackageName(name: unknown): NameCheck {
  if (typeof name !== "string" || name.length === 0) return { ok: false, reason: "package name is empty" };
  if (name.length > MAX_NAME_LENGTH) return { ok: false, reason: `package name is longer than ${MAX_NAME_LENGTH} characters` };
  // NAME admits only lowercase printable ASCII, so a match needs neither of the checks below,
  // which are there to say precisely what is wrong with a name that does not match.
  if (!NAME.test(name)) {
    if (/[^\x21-\x7e]/.test(name)) return { ok: false, reason: "package name may contain only printable ASCII (no spaces, control or non-ASCII characters)" };
    if (name !== name.toLowerCase()) return { ok: false, reason: "package name must be lowercase" };
    return { ok: false, reason: "package name must be `name` or `@scope/name`, each part made of a-z 0-9 - . _ and starting with a letter or digit" };
  }
  const slash = name.indexOf("/"); // NAME allows one, and only after a scope
  const base = slash < 0 ? name : name.slice(slash + 1);
  if (RESERVED.has(base)) return { ok: false, reason: `package name "${base}" is reserved` };
  if (slash < 0) return { ok: true, name, namespace: name };
  const scope = name.slice(0, slash);
  return { ok: true, name, namespace: scope, scope };
}

/** The namespace a (valid) package name belongs to. */
export function namespaceOf(name: string): string {
  const slash = name.indexOf("/");
  return name.startsWith("@") && slash > 0 ? name.slice(0, slash) : name;
}

// The legacy unscoped names npm still serves (capitals, `~`), as the lockfile readers accept them.
const LEGACY_UNSCOPED = /^[a-z0-9~][\w.~-]*$/i;

/**
 * An unscoped name npm's registry may still hold although no new package may take it
 * (`JSONStream`, `Base64`): a pins rule may allow or reject one by name, nothing may publish it.
 */
export function isLegacyUnscopedName(name: unknown): boolean {
  return typeof name === "string" && name.length <= MAX_NAME_LENGTH && LEGACY_UNSCOPED.test(name) && !RESERVED.has(name);
}

/** A namespace is a scope (`@acme`) or a valid unscoped package name. */
export function checkNamespace(namespace: unknown): { ok: true } | { ok: false; reason: string } {
  if (typeof namespace === "string" && namespace.startsWith("@")) {
    return SCOPE.test(namespace) && namespace.length <= MAX_NAME_LENGTH
      ? { ok: true }
      : { ok: false, reason: "a scope namespace is `@` followed by a-z 0-9 - . _, starting with a letter or digit" };
  }
  const check = checkPackageName(namespace);
  return check.ok ? { ok: true } : { ok: false, reason: `not a scope or an unscoped package name: ${check.reason}` };
}

// Plain release versions, the common case, without semver's parser: three parts, each 0 or up to 15
// digits without a leading zero (so below Number.MAX_SAFE_INTEGER, as semver requires). Every such
// string is its own canonical semver form; anything else is left to semver.
const PLAIN_RELEASE = /^(?:0|[1-9]\d{0,14})\.(?:0|[1-9]\d{0,14})\.(?:0|[1-9]\d{0,14})$/;

export function checkVersion(version: unknown): { ok: true } | { ok: false; reason: string } {
  if (typeof version !== "string" || version.length === 0) return { ok: false, reason: "version is empty" };
  if (version.length > MAX_VERSION_LENGTH) return { ok: false, reason: `version is longer than ${MAX_VERSION_LENGTH} characters` };
  if (!PLAIN_RELEASE.test(version) && semverValid(version) !== version) return { ok: false, reason: `"${printable(version)}" is not a canonical semver version (like 1.2.3 or 1.2.3-beta.1, no "v" prefix or build metadata)` };
  return { ok: true };
}

/** Package URL (purl) of an npm package version: the subject name in every statement. */
export function purl(name: string, version: string): string {
  return `pkg:npm/${name.startsWith("@") ? `%40${name.slice(1)}` : name}@${version}`;
}

/** Makes attacker-supplied text safe to echo in a one-line error message. */
export function printable(text: string, max = 80): string {
  const clean = text.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
