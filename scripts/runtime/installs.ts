/**
 * @module
 * Start-up scan of the project's node_modules for swapped packages (docs/PROTOCOL.md §17).
 *
 * Node loads a package's files by their real path, so `node_modules/@acme/utils -> /tmp/evil`
 * makes the guard see `/tmp/evil/index.js`, a path that names no package. The rule: the package
 * directory of every name in a pinned namespace must really be a `node_modules/<that same name>`
 * directory inside the project. pnpm's `node_modules/@acme/utils ->
 * node_modules/.pnpm/@acme+utils@1.0.0/node_modules/@acme/utils` is; a link anywhere else (out of
 * the project, or to another name) is a swap, and the guard refuses every file under its target.
 *
 * Cheap on purpose: readdir with file types, one existence check per package for a nested
 * node_modules, and a realpath only for links of pinned names. Covered: the project's
 * node_modules, nested `x/node_modules/…`, and virtual stores (`.pnpm/*\/node_modules`, `.bun`).
 */

import { existsSync, readdirSync, realpathSync, type Dirent } from "node:fs";
import { join, sep } from "node:path";

/** A package directory of a pinned name that is not a node_modules/<name> directory in the project. */
export interface SwappedPackage {
  name: string;
  /** Where Node finds it (absolute): …/node_modules/<name>. */
  link: string;
  /** Its real path: where the files that would load really are. */
  target: string;
}

export interface InstallScan {
  swapped: SwappedPackage[];
  /** node_modules or scope directories that exist but cannot be listed: swaps there cannot be seen. */
  unlisted: string[];
}

const NODE_MODULES = "node_modules";
/** Directories inside node_modules that hold whole node_modules trees (pnpm, bun's isolated linker). */
const VIRTUAL_STORES = new Set([".pnpm", ".bun"]);

/** Scans `<projectDir>/node_modules` (projectDir is a real path) for swapped packages of pinned names. */
export function scanInstalls(projectDir: string, isPinned: (name: string) => boolean): InstallScan {
  const scan = new Scan(projectDir, isPinned);
  const root = join(projectDir, NODE_MODULES);
  const real = realPathOrUndefined(root);
  if (real !== undefined) scan.nodeModules(root, real);
  return { swapped: scan.swapped, unlisted: scan.unlisted };
}

class Scan {
  readonly swapped: SwappedPackage[] = [];
  readonly unlisted: string[] = [];
  private readonly seen = new Set<string>();

  constructor(
    private readonly projectDir: string,
    private readonly isPinned: (name: string) => boolean,
  ) {}

  /** One node_modules directory: `path` as Node reaches it, `real` its real path. */
  nodeModules(path: string, real: string): void {
    if (this.seen.has(real)) return;
    this.seen.add(real);
    for (const entry of this.list(path)) {
      if (VIRTUAL_STORES.has(entry.name)) this.virtualStore(join(path, entry.name), this.realOf(path, real, entry));
      else if (entry.name.startsWith(".")) continue; // .bin, .package-lock.json, .modules.yaml, caches
      else if (entry.name.startsWith("@")) this.scope(join(path, entry.name), this.realOf(path, real, entry), entry.name);
      else this.packageDir(join(path, entry.name), real, entry, entry.name);
    }
  }

  /** `.pnpm/<name>@<version>/node_modules/…`, and `.pnpm/node_modules` (pnpm's hidden hoisting). */
  private virtualStore(path: string, real: string | undefined): void {
    if (real === undefined) return;
    for (const entry of this.list(path)) {
      if (!entry.isDirectory()) continue;
      if (entry.name === NODE_MODULES) this.nodeModules(join(path, NODE_MODULES), join(real, NODE_MODULES));
      else if (existsSync(join(path, entry.name, NODE_MODULES))) this.nodeModules(join(path, entry.name, NODE_MODULES), join(real, entry.name, NODE_MODULES));
    }
  }

  private scope(path: string, real: string | undefined, scope: string): void {
    if (real === undefined) return;
    for (const entry of this.list(path)) this.packageDir(join(path, entry.name), real, entry, `${scope}/${entry.name}`);
  }

  private packageDir(path: string, parentReal: string, entry: Dirent, name: string): void {
    const linked = entry.isSymbolicLink();
    if (!linked && !entry.isDirectory()) return;
    if (this.isPinned(name)) {
      const real = linked ? realPathOrUndefined(path) : join(parentReal, entry.name);
      if (real === undefined) return; // a dangling link: nothing loads through it
      if (!this.isInstalledAs(real, name)) {
        this.swapped.push({ name, link: path, target: real });
        return;
      }
    }
    // A link's target is scanned where it really lives (pnpm's store); links elsewhere are not followed.
    if (!linked && existsSync(join(path, NODE_MODULES))) this.nodeModules(join(path, NODE_MODULES), join(parentReal, entry.name, NODE_MODULES));
  }

  /** Whether `real` is a node_modules/<name> directory inside the project. */
  private isInstalledAs(real: string, name: string): boolean {
    return real.startsWith(this.projectDir + sep) && real.endsWith(`${sep}${NODE_MODULES}${sep}${name.split("/").join(sep)}`);
  }

  private realOf(parentPath: string, parentReal: string, entry: Dirent): string | undefined {
    return entry.isSymbolicLink() ? realPathOrUndefined(join(parentPath, entry.name)) : join(parentReal, entry.name);
  }

  private list(path: string): Dirent[] {
    try {
      return readdirSync(path, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") this.unlisted.push(`${path} (${code ?? "error"})`);
      return [];
    }
  }
}

function realPathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync.native(path);
  } catch {
    return undefined;
  }
}
