/**
 * @module
 * A project's workspaces: the `workspaces` field of package.json (an array, or yarn v1's
 * `{ packages: [...] }`) and pnpm-workspace.yaml's `packages`, as glob patterns (`*`, `**`,
 * `!negation`), matched against folder paths and expanded on disk. Workspaces are the project's
 * own code: an entry that links to one is a "workspace", a link anywhere else is a "link".
 */

import { existsSync, readdirSync } from "node:fs";
import { join, posix } from "node:path";

/** A relative folder path in one spelling: `/`-separated, no `./`, no trailing `/`. */
export const normalizePath = (path: string): string => posix.normalize(path.replace(/\\/g, "/")).replace(/^\.\//, "").replace(/\/+$/, "") || ".";

/** `packages/*` → a RegExp over `/`-separated paths relative to the project root. */
export function globToRegExp(pattern: string): RegExp {
  const segments = normalizePath(pattern).split("/");
  const body = segments.map((segment, i) => {
    const last = i === segments.length - 1;
    if (segment === "**") return last ? "(?:[^/]+(?:/[^/]+)*)?" : "(?:[^/]+/)*";
    const literal = segment.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, "[^/]*").replace(/\?/g, "[^/]");
    return last ? literal : `${literal}/`;
  });
  return new RegExp(`^${body.join("")}$`);
}

/** Whether a folder (relative to the root) is a workspace; `!pattern`s exclude, later ones win. */
export function isWorkspacePath(path: string, patterns: readonly string[]): boolean {
  const target = normalizePath(path);
  let matched = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith("!");
    if (globToRegExp(negated ? pattern.slice(1) : pattern).test(target)) matched = !negated;
  }
  return matched;
}

/** The patterns of a package.json `workspaces` field (both shapes); [] when absent or odd. */
export function workspacePatternsOf(manifest: unknown): string[] {
  if (typeof manifest !== "object" || manifest === null || !("workspaces" in manifest)) return [];
  const field = manifest.workspaces;
  const list = Array.isArray(field) ? field : typeof field === "object" && field !== null && "packages" in field && Array.isArray(field.packages) ? field.packages : [];
  return list.filter((p): p is string => typeof p === "string");
}

const SKIP = new Set(["node_modules", ".git"]);
/** How deep a `**` pattern is followed. */
const MAX_DEPTH = 8;

/** The workspace folders on disk (relative, `/`-separated) that hold a package.json. */
export function expandWorkspaces(root: string, patterns: readonly string[]): string[] {
  const found = new Set<string>();
  const visit = (relative: string, depthLeft: number) => {
    if (relative !== "." && isWorkspacePath(relative, patterns) && existsSync(join(root, relative, "package.json"))) found.add(relative);
    if (depthLeft <= 0) return;
    let names: string[];
    try {
      names = readdirSync(join(root, relative), { withFileTypes: true }).filter((d) => d.isDirectory() && !SKIP.has(d.name)).map((d) => d.name);
    } catch {
      return;
    }
    for (const name of names.sort()) visit(relative === "." ? name : `${relative}/${name}`, depthLeft - 1);
  };
  // Walk from each pattern's fixed prefix (`packages/*` → `packages`), only as deep as it reaches.
  for (const pattern of patterns.filter((p) => !p.startsWith("!"))) {
    const segments = normalizePath(pattern).split("/");
    const firstGlob = segments.findIndex((s) => /[*?]/.test(s));
    const prefix = firstGlob < 0 ? segments : segments.slice(0, firstGlob);
    const start = prefix.join("/") || ".";
    if (start === "." || existsSync(join(root, start))) visit(start, segments.includes("**") ? MAX_DEPTH : segments.length - prefix.length);
  }
  return [...found].sort();
}
