/**
 * @module
 * yarn.lock as Yarn 2+ ("berry") writes it: a `__metadata` block, then one entry per resolution
 * keyed by every descriptor that resolved to it (`"@acme/utils@npm:1.0.0, my-utils@npm:@acme/utils@1.0.0"`).
 *
 * The descriptors' names are what dependents require, so they are the names it is installed as;
 * its own name comes from `resolution`. The kind comes from the resolution's protocol: `npm:`
 * registry, `workspace:`, `link:` / `portal:` (symlinks), `file:` (a copied folder or a tarball),
 * `patch:` (yarn also patches typescript, resolve and fsevents by itself), git and http(s)
 * tarballs; `exec:` (bytes made by a script at install time) and unknown protocols are refused.
 * `checksum` is a hash of yarn's re-packed zip, not of the registry tarball, so it is not
 * reported as integrity: the verifier has to fetch the tarball and hash it.
 */

import { dirname, join } from "node:path";
import * as z from "zod/mini";
import { splitAtName } from "./names.js";
import { readPackageJson } from "./package-json.js";
import { entryProblem, fileProblem, quote, validate } from "./problems.js";
import { isArchive, isGitUrl } from "./specs.js";
import type { LockEntry, SourceKind } from "./types.js";

/** The newest `__metadata.version` this reader knows (Yarn 4.18 writes 10). */
const NEWEST_FORMAT = 10;

const BerryEntry = z.object({ version: z.string(), resolution: z.string() });

/** `reference::a=1&b=2` → the reference and its parameters (yarn's locator/descriptor bindings). */
function splitBindings(reference: string): { body: string; bindings: URLSearchParams } {
  const at = reference.indexOf("::");
  return at < 0 ? { body: reference, bindings: new URLSearchParams() } : { body: reference.slice(0, at), bindings: new URLSearchParams(reference.slice(at + 2)) };
}

/** The kind and the recorded source of a resolution reference (what follows `name@`). */
function classify(reference: string): { kind: SourceKind; resolved?: string } | { refused: string } {
  const { body, bindings } = splitBindings(reference);
  const protocol = /^[a-z][a-z0-9+.-]*:/i.exec(body)?.[0] ?? "";
  const archiveUrl = bindings.get("__archiveUrl");
  switch (protocol) {
    case "npm:":
      return archiveUrl ? { kind: "registry", resolved: archiveUrl } : { kind: "registry" };
    case "workspace:":
      return { kind: "workspace", resolved: body.slice(protocol.length) };
    case "link:":
    case "portal:":
      return { kind: "link", resolved: body.slice(protocol.length) };
    case "patch:":
      return { kind: "patch", resolved: body };
    case "file:": {
      const path = body.slice(protocol.length).split("#")[0] ?? "";
      return { kind: isArchive(path) ? "tarball" : "directory", resolved: path };
    }
    case "exec:":
      return { refused: "is an exec: dependency, whose files a script generates at install time: it cannot be verified" };
  }
  if (isGitUrl(body)) return { kind: "git", resolved: body };
  if (/^https?:$/i.test(protocol)) return { kind: "tarball", resolved: body };
  return { refused: `has a resolution protocol this reader does not know: ${quote(reference)}` };
}

export function readYarnBerryLockfile(path: string, lock: Record<string, unknown>): LockEntry[] {
  const metadata = validate(z.object({ version: z.string() }), lock.__metadata, path, "__metadata");
  const format = Number(metadata.version);
  if (!Number.isInteger(format) || format < 4 || format > NEWEST_FORMAT) {
    throw fileProblem(path, `__metadata.version ${metadata.version} is not supported (this reader knows yarn lockfile formats 4 to ${NEWEST_FORMAT}: Yarn 3 and 4)`);
  }
  const entries: LockEntry[] = [];
  for (const [key, value] of Object.entries(lock)) {
    if (key === "__metadata") continue;
    const location = quote(key);
    const entry = validate(BerryEntry, value, path, location);
    const locator = splitAtName(entry.resolution);
    if (!locator) throw entryProblem(path, location, `has a resolution this reader cannot read: ${quote(entry.resolution)}`);
    const names: string[] = [];
    const ranges: string[] = [];
    for (const descriptor of key.split(/ *, */)) {
      const split = splitAtName(descriptor);
      if (!split) throw entryProblem(path, location, `has a descriptor this reader cannot read: ${quote(descriptor)}`);
      if (!names.includes(split.name)) names.push(split.name);
      ranges.push(split.rest);
    }
    // The project's root workspace is the project itself, unless a workspace depends on it by name.
    if (locator.rest === "workspace:." && ranges.every((range) => range === "workspace:.")) continue;
    const source = classify(locator.rest);
    if ("refused" in source) throw entryProblem(path, location, source.refused);
    // Workspaces, links and portals carry the placeholder 0.0.0-use.local: their package.json says
    // more. A link's path is relative to the workspace that declares it (the `locator` binding).
    const declaringWorkspace = splitAtName(splitBindings(locator.rest).bindings.get("locator") ?? "")?.rest.replace(/^workspace:/, "") ?? ".";
    const local = entry.version === "0.0.0-use.local" && source.resolved !== undefined ? readPackageJson(join(dirname(path), source.kind === "workspace" ? "." : declaringWorkspace, source.resolved, "package.json")).version : undefined;
    entries.push({
      lockfile: path,
      manager: "yarn-berry",
      location,
      installedAs: names,
      kind: source.kind,
      name: locator.name,
      version: local ?? entry.version,
      integrityOfTarball: false,
      ...(source.resolved !== undefined ? { resolved: source.resolved } : {}),
    });
  }
  return entries;
}
