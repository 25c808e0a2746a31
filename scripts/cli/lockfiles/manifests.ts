/**
 * @module
 * The package.json cross-check: what the project's manifests declare that a lockfile may leave
 * out. Yarn 1 records no workspaces in yarn.lock (and has been known to leave `link:`
 * dependencies out), pnpm leaves links out with `excludeLinksFromLockfile`, and a lockfile can be
 * stale. So for every lockfile, the root package.json and its workspaces' package.json files are
 * read, and every dependency whose spec is not a registry one (`link:`, `file:`, `portal:`,
 * `workspace:`, `patch:`, git, a tarball URL) and every override / resolution pointing at such a
 * source is reported — unless the lockfile already reports an entry installed under that name
 * from the same kind of source. `lockfile` is then the package.json, `location` the field.
 *
 * Which override fields count depends on the manager: npm `overrides` (nested), pnpm
 * `pnpm.overrides`, `resolutions` and pnpm-workspace.yaml `overrides`, yarn `resolutions`, bun
 * `overrides` and `resolutions`. An override's installedAs is the overridden name (the last
 * package of a selector such as `a>b`, `**\/b` or `b@1`): the caller decides what is allowed.
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import * as z from "zod/mini";
import { isPackageName, lastPackageOf, splitAtName } from "./names.js";
import { DEPENDENCY_GROUPS, loadManifest, readPackageJson, type Manifest } from "./package-json.js";
import { entryProblem, fileProblem, quote, readText, validate } from "./problems.js";
import { kindOfSpec, sameSourceFamily } from "./specs.js";
import type { LockEntry, Manager, SourceKind } from "./types.js";
import { expandWorkspaces, workspacePatternsOf } from "./workspaces.js";

const PnpmWorkspace = z.object({
  packages: z.optional(z.array(z.string())),
  overrides: z.optional(z.record(z.string(), z.string())),
});
type PnpmWorkspace = z.infer<typeof PnpmWorkspace>;

function loadPnpmWorkspace(dir: string): PnpmWorkspace {
  const file = join(dir, "pnpm-workspace.yaml");
  if (!existsSync(file)) return {};
  let yaml: unknown;
  try {
    yaml = parseYaml(readText(file));
  } catch (error) {
    if (error instanceof Error && error.name.startsWith("YAML")) throw fileProblem(file, "is not valid YAML");
    throw error;
  }
  return validate(PnpmWorkspace, yaml ?? {}, file, "pnpm-workspace.yaml");
}

/** The package an override selector overrides: `a>b@1` (pnpm), `**\/b` / `a/b` (yarn), `b@^1`. */
export function overriddenName(selector: string): string | undefined {
  const last = selector.split(">").at(-1) ?? "";
  const segments = last.split("/");
  const tail = segments.length >= 2 && segments.at(-2)?.startsWith("@") ? segments.slice(-2).join("/") : (segments.at(-1) ?? "");
  const name = splitAtName(tail)?.name ?? tail;
  return isPackageName(name) ? name : lastPackageOf(name);
}

/** npm's nested overrides, flattened to [selector path, spec] (`"."` means the enclosing package). */
function flattenNpmOverrides(overrides: unknown, at: string[] = []): [string[], string][] {
  if (typeof overrides !== "object" || overrides === null) return [];
  const flat: [string[], string][] = [];
  for (const [key, value] of Object.entries(overrides)) {
    const path = key === "." ? at : [...at, key];
    if (typeof value === "string") flat.push([path, value]);
    else flat.push(...flattenNpmOverrides(value, path));
  }
  return flat;
}

interface Override {
  /** Where it is written: "package.json" or "pnpm-workspace.yaml". */
  file: "package.json" | "pnpm-workspace.yaml";
  field: string;
  selector: string;
  spec: string;
}

/** The override fields this manager applies. */
function overridesOf(manager: Manager, manifest: Manifest, workspace: PnpmWorkspace): Override[] {
  const flat = (field: string, map: Record<string, string> | undefined, file: Override["file"] = "package.json") =>
    Object.entries(map ?? {}).map(([selector, spec]): Override => ({ file, field: `${field}.${selector}`, selector, spec }));
  const npmStyle = flattenNpmOverrides(manifest.overrides).map(([path, spec]): Override => ({ file: "package.json", field: `overrides.${path.join(".")}`, selector: path.at(-1) ?? "", spec }));
  switch (manager) {
    case "npm":
      return npmStyle;
    case "pnpm":
      return [...flat("pnpm.overrides", manifest.pnpm?.overrides), ...flat("resolutions", manifest.resolutions), ...flat("overrides", workspace.overrides, "pnpm-workspace.yaml")];
    case "yarn-classic":
    case "yarn-berry":
      return flat("resolutions", manifest.resolutions);
    case "bun":
      return [...npmStyle, ...flat("resolutions", manifest.resolutions)];
  }
}

/**
 * What the manifests in `projectDir` declare from non-registry sources that `reported` (the
 * entries of `manager`'s lockfile there) does not already cover.
 */
export function manifestEntries(projectDir: string, manager: Manager, reported: readonly LockEntry[]): LockEntry[] {
  const rootFile = join(projectDir, "package.json");
  const root = loadManifest(rootFile);
  if (!root) return [];
  const workspace = manager === "pnpm" ? loadPnpmWorkspace(projectDir) : {};
  const patterns = manager === "pnpm" && workspace.packages ? workspace.packages : workspacePatternsOf(root);
  const folders = expandWorkspaces(projectDir, patterns);
  const found: LockEntry[] = [];
  const covered = (name: string, kind: SourceKind) => [...reported, ...found].some((e) => e.installedAs.includes(name) && sameSourceFamily(e.kind, kind));

  const report = (file: string, location: string, installedAs: string, spec: string, folder: string) => {
    if (!isPackageName(installedAs)) throw entryProblem(file, location, "is not a package name");
    const kind = kindOfSpec(spec, manager);
    // Registry specs are the lockfile's to report; unknown protocols are refused by the lockfile readers.
    if (kind === "registry" || kind === "unknown" || covered(installedAs, kind)) return;
    const local = kind === "link" || kind === "directory" ? spec.replace(/^(?:link|portal|file):/, "") : undefined;
    const target = local !== undefined ? readPackageJson(join(projectDir, folder, local, "package.json")) : {};
    found.push({
      lockfile: file,
      manager,
      location,
      installedAs: [installedAs],
      kind,
      name: target.name ?? installedAs,
      version: target.version ?? "",
      integrityOfTarball: false,
      resolved: spec,
    });
  };

  for (const folder of [".", ...folders]) {
    const relative = folder === "." ? "package.json" : `${folder}/package.json`;
    const file = join(projectDir, relative);
    const manifest = folder === "." ? root : loadManifest(file);
    if (!manifest) continue;
    for (const group of DEPENDENCY_GROUPS) {
      for (const [name, spec] of Object.entries(manifest[group] ?? {})) report(file, `${relative} ${group}.${name}`, name, spec, folder);
    }
    // Yarn 1 symlinks every workspace into node_modules under its name, and writes none into yarn.lock.
    if (manager === "yarn-classic" && folder !== "." && manifest.name && !covered(manifest.name, "workspace")) {
      found.push({ lockfile: file, manager, location: `package.json workspaces ${quote(folder)}`, installedAs: [manifest.name], kind: "workspace", name: manifest.name, version: manifest.version ?? "", integrityOfTarball: false, resolved: folder });
    }
  }
  for (const override of overridesOf(manager, root, workspace)) {
    if (override.spec.startsWith("$")) continue; // npm `$name`: the version the root depends on, a registry spec
    const file = join(projectDir, override.file);
    const location = `${override.file} ${override.field}`;
    const name = overriddenName(override.selector);
    if (!name) throw entryProblem(file, location, "does not name a package");
    report(file, location, name, override.spec, ".");
  }
  return found;
}
