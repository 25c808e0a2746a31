/**
 * @module
 * The runtime phase's check (docs/PROTOCOL.md §17): may this module file be loaded? The rule,
 * applied to the file's real path (Node passes real paths unless told to preserve symlinks; then
 * the guard resolves them itself):
 *
 * - under the target of a swapped package (installs.ts) → refused, naming the link;
 * - nothing says which namespaces are pinned (countersign.json unusable and no trusted receipt)
 *   → every file under a node_modules directory is refused;
 * - a file of a package in a pinned namespace (pinned to a registry by countersign.json, or
 *   listed by a trusted receipt) loads only if the receipt is usable (present, signed by a trusted
 *   key, made for the lockfile(s) on disk), lists the package installed at that path, and the
 *   file's bytes equal the per-file digest the publisher signed;
 * - everything else loads unchanged.
 *
 * Shared by the CommonJS patch (hook.ts) and the ESM loader (loader.ts): the state is plain data.
 */

import { createHash } from "node:crypto";
import { readFileSync, realpathSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { namespaceOf, resolvePin, type Pins, type Receipt, type ReceiptPackage } from "../../src/core/index.js";
import type { SwappedPackage } from "./installs.js";

/** Everything the check needs, serialisable so the ESM loader thread gets the same view. */
export interface GuardState {
  /** The project directory (a real path). */
  projectDir: string;
  /** The parsed countersign.json, or null when it is missing, unreadable or invalid. */
  pins: Pins | null;
  /** Namespaces a trusted receipt lists as pinned (enforced too, whatever the pins say now). */
  receiptNamespaces: string[];
  /** The receipt, when it can be used. */
  receipt: Receipt | null;
  /** Why the receipt cannot be used (missing, forged, for another lockfile); null when it can. */
  problem: string | null;
  /** Set when nothing says which namespaces are pinned: then every node_modules file is refused, for this reason. */
  lockdown: string | null;
  /** Package directories of pinned names that are links to somewhere else (installs.ts). */
  swapped: SwappedPackage[];
  /** node_modules directories that could not be listed, so swaps in them cannot be seen. */
  unlisted: string[];
  /** Whether Node hands the loader real paths (it does unless --preserve-symlinks): then no realpath per file. */
  nodeGivesRealPaths: boolean;
}

export const UNVERIFIED_MODULE = "ERR_COUNTERSIGN_UNVERIFIED_MODULE";

export class UnverifiedModuleError extends Error {
  readonly code = UNVERIFIED_MODULE;
  constructor(
    readonly packageName: string,
    readonly file: string,
    readonly reason: string,
  ) {
    super(`countersign: refusing to load ${file} of ${packageName}: ${reason}`);
    this.name = "UnverifiedModuleError";
  }
}

const sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex");
const NODE_MODULES = `${sep}node_modules${sep}`;

/** The package a file belongs to, from its path: `…/node_modules/@s/n/lib/x.js` → @s/n, lib/x.js. */
export function packageOfPath(filename: string): { name: string; root: string; relative: string } | undefined {
  const at = filename.lastIndexOf(NODE_MODULES);
  if (at < 0) return undefined;
  const rest = filename.slice(at + NODE_MODULES.length).split(sep);
  const width = rest[0]?.startsWith("@") ? 2 : 1;
  if (rest.length <= width) return undefined;
  const name = rest.slice(0, width).join("/");
  return { name, root: filename.slice(0, at + NODE_MODULES.length) + rest.slice(0, width).join(sep), relative: rest.slice(width).join("/") };
}

/** Whether a name's files must be verified: its namespace is pinned to a registry or listed by the receipt. */
export function isPinnedName(state: Pick<GuardState, "pins" | "receiptNamespaces" | "lockdown">, name: string): boolean {
  if (state.lockdown !== null) return true;
  const namespace = namespaceOf(name);
  if (namespace === "") return false;
  if (state.receiptNamespaces.includes(namespace)) return true;
  return state.pins !== null && resolvePin(state.pins, name).rule.kind === "registry";
}

/** Whether this process keeps symlinked paths (--preserve-symlinks[-main], NODE_PRESERVE_SYMLINKS=1). */
export function preservesSymlinks(execArgv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  return env.NODE_PRESERVE_SYMLINKS === "1" || [...execArgv, ...(env.NODE_OPTIONS ?? "").split(/\s+/)].some((a) => a.startsWith("--preserve-symlinks"));
}

function realPathOf(filename: string): string {
  try {
    return realpathSync.native(filename);
  } catch {
    return filename;
  }
}

export function createGuard(state: GuardState) {
  const byName = new Map<string, ReceiptPackage[]>();
  for (const p of state.receipt?.packages ?? []) byName.set(p.name, [...(byName.get(p.name) ?? []), p]);
  const versionAt = new Map<string, ReceiptPackage | string>();
  const swappedAt = new Map(state.swapped.map((s) => [s.target, s]));

  /** The swapped package whose target holds `file`, if any: walks up from the file. */
  function swapHolding(file: string): SwappedPackage | undefined {
    if (swappedAt.size === 0) return undefined;
    for (let dir = dirname(file); ; dir = dirname(dir)) {
      const swap = swappedAt.get(dir);
      if (swap) return swap;
      if (dirname(dir) === dir) return undefined;
    }
  }

  /** Which verified version is installed at `root`: the one whose signed package.json is on disk. */
  function installed(name: string, root: string): ReceiptPackage | string {
    let found = versionAt.get(root);
    if (found === undefined) {
      const candidates = byName.get(name) ?? [];
      if (candidates.length === 0) found = `${name} is not in the verification receipt (installed after countersign verify, or not verified)`;
      else {
        let digest: string | undefined;
        try {
          digest = sha256(readFileSync(join(root, "package.json")));
        } catch {
          digest = undefined;
        }
        found =
          candidates.find((c) => c.files?.some((f) => f.path === "package.json" && "sha256" in f && f.sha256 === digest)) ??
          (candidates.every((c) => !c.files) ? `${name} was verified without per-file digests, so its files cannot be checked` : `package.json of ${name} matches no verified version (modified, or not the verified package)`);
      }
      versionAt.set(root, found);
    }
    return found;
  }

  /** Throws UnverifiedModuleError unless `filename` may be loaded with these bytes. */
  return function check(filename: string, bytes: Uint8Array | string): void {
    const file = state.nodeGivesRealPaths ? filename : realPathOf(filename);
    const swap = swapHolding(file);
    if (swap) throw new UnverifiedModuleError(swap.name, relative(swap.target, file).split(sep).join("/"), `${swap.link} is a link to ${swap.target}, not to node_modules/${swap.name} inside the project (a swapped package)`);
    const pkg = packageOfPath(file);
    if (state.lockdown !== null) {
      if (file.includes(NODE_MODULES)) throw new UnverifiedModuleError(pkg?.name ?? "node_modules", pkg?.relative ?? file, state.lockdown);
      return;
    }
    if (!pkg) {
      if (state.unlisted.length > 0 && !file.startsWith(state.projectDir + sep)) {
        throw new UnverifiedModuleError("(unknown package)", file, `${state.unlisted[0]} cannot be listed, so whether ${file} is a swapped package cannot be checked`);
      }
      return;
    }
    if (!isPinnedName(state, pkg.name)) return;
    if (state.problem) throw new UnverifiedModuleError(pkg.name, pkg.relative, state.problem);
    const entry = installed(pkg.name, pkg.root);
    if (typeof entry === "string") throw new UnverifiedModuleError(pkg.name, pkg.relative, entry);
    const signed = entry.files?.find((f) => f.path === pkg.relative);
    if (!signed || !("sha256" in signed)) throw new UnverifiedModuleError(`${entry.name}@${entry.version}`, pkg.relative, "the file is not part of the verified package");
    const actual = sha256(bytes);
    if (actual !== signed.sha256) {
      throw new UnverifiedModuleError(`${entry.name}@${entry.version}`, pkg.relative, `its bytes differ from the signed digest (expected sha256:${signed.sha256}, actual sha256:${actual})`);
    }
  };
}
