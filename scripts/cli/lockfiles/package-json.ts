/**
 * @module
 * The project's package.json files: read strictly where countersign judges what they declare
 * (a broken manifest is an error, as it is for the package manager), and leniently where a
 * linked folder's package.json only supplies the name and version to report.
 */

import { existsSync, readFileSync } from "node:fs";
import * as z from "zod/mini";
import { fileProblem, readText, validate } from "./problems.js";

const DependencyMap = z.optional(z.record(z.string(), z.string()));

export const Manifest = z.object({
  name: z.optional(z.string()),
  version: z.optional(z.string()),
  dependencies: DependencyMap,
  devDependencies: DependencyMap,
  optionalDependencies: DependencyMap,
  /** An array of globs, or yarn 1's `{ packages: [...] }`. */
  workspaces: z.optional(z.unknown()),
  /** npm's overrides nest (`{ "a": { "b": "1.0.0" } }`); bun's are flat. */
  overrides: z.optional(z.unknown()),
  resolutions: DependencyMap,
  pnpm: z.optional(z.object({ overrides: DependencyMap })),
});
export type Manifest = z.infer<typeof Manifest>;

export const DEPENDENCY_GROUPS = ["dependencies", "devDependencies", "optionalDependencies"] as const;

/** The manifest at `file`, or undefined when there is none; invalid JSON or fields are errors. */
export function loadManifest(file: string): Manifest | undefined {
  if (!existsSync(file)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readText(file));
  } catch (error) {
    if (error instanceof SyntaxError) throw fileProblem(file, "is not valid JSON");
    throw error;
  }
  return validate(Manifest, json, file, "package.json");
}

/** The name and version in a folder's package.json, as far as it says; {} when absent or unreadable. */
export function readPackageJson(file: string): { name?: string; version?: string } {
  try {
    const json: unknown = JSON.parse(readFileSync(file, "utf8"));
    if (typeof json !== "object" || json === null) return {};
    return {
      ...("name" in json && typeof json.name === "string" ? { name: json.name } : {}),
      ...("version" in json && typeof json.version === "string" ? { version: json.version } : {}),
    };
  } catch {
    return {};
  }
}
