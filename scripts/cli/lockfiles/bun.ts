/**
 * @module
 * bun.lock, bun's text lockfile (JSONC with trailing commas; lockfileVersion 0 to 2 — bun 1.4
 * writes 2). `packages` maps install paths to tuples:
 *
 *   "@acme/utils":            ["@acme/utils@1.1.0", "<registry tarball URL, or "" for the default>", {info}, "sha512-…"]
 *   "@acme/core/@acme/utils": nested under @acme/core
 *   "my-utils":               ["@acme/utils@1.0.0", …]   an alias: the key's name differs from the id's
 *   "x":                      ["x@workspace:packages/x"] / ["x@link:./dir", {}] / ["x@file:dir", {}]
 *                             ["x@./vendor/x.tgz", {}, "sha512-…"] / ["x@http://…/x.tgz", {}, "sha512-…"]
 *                             ["x@git+…#sha", {}, "sha"] / ["x@github:o/r#sha", {}, "…"]
 *
 * The key's last package segment(s) is the name it is installed as; the id's name is the real
 * one. `{ bundled: true }` marks a dependency shipped inside its parent's tarball. The registry
 * string is kept as written ("" means the registry bun is configured with). bun.lockb, the
 * binary format of older bun, cannot be read: the error says how to get bun.lock instead.
 */

import { dirname, join } from "node:path";
// The ESM build: the package's "main" is a UMD bundle that esbuild cannot inline.
import { parse as parseJsonc, printParseErrorCode, type ParseError } from "jsonc-parser/lib/esm/main.js";
import semver from "semver";
import * as z from "zod/mini";
import { CliError, EXIT } from "../errors.js";
import { lastPackageOf, splitAtName } from "./names.js";
import { readPackageJson } from "./package-json.js";
import { entryProblem, fileProblem, quote, readText, validate } from "./problems.js";
import { isArchive, isGitSpec } from "./specs.js";
import type { LockEntry, SourceKind } from "./types.js";

const NEWEST_VERSION = 2;

const BunLock = z.object({
  lockfileVersion: z.number(),
  workspaces: z.optional(z.record(z.string(), z.object({ name: z.optional(z.string()), version: z.optional(z.string()) }))),
  packages: z.optional(z.record(z.string(), z.array(z.unknown()))),
});

export function bunBinaryLockfileError(path: string): CliError {
  return new CliError(
    `${path}: bun.lockb is bun's binary lockfile, which cannot be verified: switch to the text lockfile bun.lock (bun 1.2 and later write it by default; with older bun run \`bun install --save-text-lockfile\`), then delete bun.lockb and run \`bun install\` again`,
    EXIT.usage,
  );
}

/** The kind of a package id's reference (what follows `name@`), or undefined when unknown. */
function kindOfReference(reference: string): SourceKind | "registry" | undefined {
  if (reference.startsWith("workspace:")) return "workspace";
  if (reference.startsWith("link:")) return "link";
  const path = reference.startsWith("file:") ? reference.slice("file:".length) : /^(?:\.{1,2}\/|\/|~\/)/.test(reference) ? reference : undefined;
  if (path !== undefined) return isArchive(path) ? "tarball" : "directory";
  if (isGitSpec(reference)) return "git";
  if (/^https?:\/\//i.test(reference)) return "tarball";
  if (semver.valid(reference)) return "registry";
  return undefined;
}

const isSri = (value: unknown): value is string => typeof value === "string" && /^sha(?:1|256|384|512)-/.test(value);

export function readBunLockfile(path: string): LockEntry[] {
  const errors: ParseError[] = [];
  const json: unknown = parseJsonc(readText(path), errors, { allowTrailingComma: true });
  const first = errors[0];
  if (first) throw fileProblem(path, `is not valid JSONC (${printParseErrorCode(first.error)} at offset ${first.offset})`);
  if (typeof json !== "object" || json === null || !("lockfileVersion" in json)) throw fileProblem(path, "is not a bun lockfile (no lockfileVersion)");
  const version = json.lockfileVersion;
  if (typeof version !== "number" || !Number.isInteger(version) || version < 0 || version > NEWEST_VERSION) {
    throw fileProblem(path, `lockfileVersion ${JSON.stringify(version)} is not supported (this reader knows 0 to ${NEWEST_VERSION}: bun 1.1 to 1.4)`);
  }
  const lock = validate(BunLock, json, path, "lockfile");
  const root = dirname(path);
  const entries: LockEntry[] = [];

  for (const [key, tuple] of Object.entries(lock.packages ?? {})) {
    const location = `packages[${quote(key)}]`;
    const installedAs = lastPackageOf(key);
    if (!installedAs) throw entryProblem(path, location, "is not an install path ending in a package name");
    const [id] = tuple;
    const split = typeof id === "string" ? splitAtName(id) : undefined;
    if (!split) throw entryProblem(path, location, `does not start with a name@version id: ${quote(String(id))}`);
    const reference = split.rest;
    const sourceKind = kindOfReference(reference);
    if (!sourceKind) throw entryProblem(path, location, `has a source this reader does not know: ${quote(reference)}`);
    const info = tuple.find((item): item is Record<string, unknown> => typeof item === "object" && item !== null && !Array.isArray(item));
    const base = { lockfile: path, manager: "bun" as const, location, installedAs: [installedAs], name: split.name, integrityOfTarball: true };

    if (sourceKind === "registry") {
      const [, registry, , integrity] = tuple;
      if (typeof registry !== "string") throw entryProblem(path, location, "has no registry (second element)");
      entries.push({
        ...base,
        kind: info?.bundled === true ? "bundled" : "registry",
        version: reference,
        ...(isSri(integrity) ? { integrity } : {}),
        ...(registry !== "" ? { resolved: registry } : {}),
        registry,
      });
      continue;
    }
    const local = sourceKind === "workspace" || sourceKind === "link" || sourceKind === "directory";
    const folder = reference.slice(reference.indexOf(":") + 1);
    const version = sourceKind === "workspace" ? lock.workspaces?.[folder]?.version : local ? readPackageJson(join(root, folder, "package.json")).version : undefined;
    const integrity = tuple.find(isSri);
    entries.push({
      ...base,
      kind: info?.bundled === true ? "bundled" : sourceKind,
      version: version ?? "",
      ...(integrity !== undefined ? { integrity } : {}),
      resolved: local || reference.startsWith("file:") ? folder : reference,
    });
  }
  return entries;
}
