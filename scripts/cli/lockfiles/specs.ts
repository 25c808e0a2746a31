/**
 * @module
 * What a dependency spec in a manifest (or a yarn v1 descriptor) asks for, as a `SourceKind`.
 * Readers use it where a lockfile does not say where an entry came from and the spec is all
 * there is (yarn v1 keys, npm's remote tarballs, package.json dependencies a lockfile leaves
 * out). `file:` depends on the tool: npm symlinks a directory, every other tool copies it.
 */

import type { Manager, SourceKind } from "./types.js";

const ARCHIVE = /\.(?:tgz|tar\.gz|tar)$/i;

/** A path or URL to a tarball (ignoring a `#hash` fragment). */
export const isArchive = (pathOrUrl: string): boolean => ARCHIVE.test(pathOrUrl.replace(/[#?].*$/, ""));

const GIT_PREFIX = /^(?:git\+[a-z]+:|git:|git@|ssh:|github:|gitlab:|bitbucket:|gist:)/i;

/** A git URL: `git+https://…`, `git@host:…`, `github:o/r`, an http(s) URL ending in `.git` or with `#commit=`. */
export function isGitUrl(spec: string): boolean {
  if (GIT_PREFIX.test(spec)) return true;
  return /^https?:\/\//i.test(spec) && (/\.git(?:#.*)?$/i.test(spec) || /#commit=/.test(spec));
}

/** A git spec: a git URL or npm's and yarn's `owner/repo` GitHub shorthand. */
export const isGitSpec = (spec: string): boolean => isGitUrl(spec) || (/^[\w.-]+\/[\w.-]+(?:#.*)?$/.test(spec) && !spec.startsWith("."));

/**
 * The kind of source a spec names: "registry" for versions, ranges, tags and `npm:` / `jsr:` /
 * `catalog:` specs, "unknown" for a protocol this module does not know (yarn's `exec:`, …).
 */
export function kindOfSpec(spec: string, manager: Manager): SourceKind | "registry" | "unknown" {
  if (spec.startsWith("workspace:")) return "workspace";
  if (spec.startsWith("link:") || spec.startsWith("portal:")) return "link";
  if (spec.startsWith("patch:")) return "patch";
  if (isGitSpec(spec)) return "git";
  if (/^https?:\/\//i.test(spec)) return "tarball";
  const path = spec.startsWith("file:") ? spec.slice("file:".length) : /^(?:\.{1,2}\/|\/|~\/)/.test(spec) ? spec : undefined;
  if (path !== undefined) return isArchive(path) ? "tarball" : manager === "npm" ? "link" : "directory";
  if (/^(?:npm|jsr|catalog):/.test(spec)) return "registry";
  return /^[a-z][a-z0-9+.-]*:/i.test(spec) ? "unknown" : "registry";
}

/** Kinds that come to the same thing when a manifest and a lockfile describe one dependency. */
export function sameSourceFamily(a: SourceKind, b: SourceKind): boolean {
  const local: SourceKind[] = ["link", "directory", "workspace"];
  return a === b || (local.includes(a) && local.includes(b));
}
