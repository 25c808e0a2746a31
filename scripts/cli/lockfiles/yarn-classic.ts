/**
 * @module
 * yarn.lock as Yarn 1 ("classic") writes it: one entry per resolution, keyed by the descriptors
 * (`name@range`) that resolved to it, with `version`, `resolved` (`<url>#<sha1>`) and, for
 * registry tarballs, `integrity` (of the tarball).
 *
 * Entries carry no name: the descriptor's name is what dependents require (installedAs), and
 * the package's own name is the same except for aliases (`my-utils@npm:@acme/utils@1.0.0`). yarn's
 * parser splits a `a@^1, a@1.0.0:` key into one entry per descriptor. The kind comes from the
 * range the dependent asked for (`file:`, `link:`, git, a URL), and for
 * plain ranges from `resolved` (a registry URL; `file:` and git when a `resolutions` entry
 * replaced the source). Yarn 1 does not record workspaces in yarn.lock (and has been known to
 * leave `link:` dependencies out): the package.json cross-check reports those.
 */

import * as z from "zod/mini";
import { splitAtName } from "./names.js";
import { entryProblem, quote, validate } from "./problems.js";
import { isArchive, isGitUrl, kindOfSpec } from "./specs.js";
import type { LockEntry, SourceKind } from "./types.js";

const ClassicEntry = z.object({ version: z.string(), resolved: z.optional(z.string()), integrity: z.optional(z.string()) });

/** What a plain (registry) range resolved to, by its `resolved` URL. */
function kindOfResolved(resolved: string | undefined): SourceKind | undefined {
  if (resolved === undefined) return undefined;
  if (isGitUrl(resolved)) return "git";
  if (resolved.startsWith("file:")) return isArchive(resolved) ? "tarball" : "directory";
  if (/^https?:\/\//i.test(resolved)) return "registry";
  return undefined;
}

export function readYarnClassicLockfile(path: string, lock: Record<string, unknown>): LockEntry[] {
  const entries: LockEntry[] = [];
  // yarn's v1 parser gives each descriptor of a `a@^1, a@1.0.0:` key an entry of its own.
  for (const [descriptor, value] of Object.entries(lock)) {
    const location = quote(descriptor);
    const entry = validate(ClassicEntry, value, path, location);
    const split = splitAtName(descriptor);
    if (!split || descriptor.includes(",")) throw entryProblem(path, location, "is not a name@range descriptor this reader can read");
    const alias = split.rest.startsWith("npm:") ? splitAtName(split.rest.slice("npm:".length)) : undefined;
    const asked = kindOfSpec(split.rest, "yarn-classic");
    if (asked === "unknown") throw entryProblem(path, location, `has a range this reader does not know: ${quote(split.rest)}`);
    const kind = asked === "registry" ? kindOfResolved(entry.resolved) : asked;
    if (!kind) throw entryProblem(path, location, entry.resolved === undefined ? "has no resolved URL" : `has a resolved URL this reader does not know: ${quote(entry.resolved)}`);
    const resolved = entry.resolved ?? (kind === "link" || kind === "directory" ? split.rest.slice(split.rest.indexOf(":") + 1) : undefined);
    entries.push({
      lockfile: path,
      manager: "yarn-classic",
      location,
      installedAs: [split.name],
      kind,
      name: alias?.name ?? split.name,
      version: entry.version,
      ...(entry.integrity !== undefined ? { integrity: entry.integrity } : {}),
      integrityOfTarball: true,
      ...(resolved !== undefined ? { resolved } : {}),
    });
  }
  return entries;
}
