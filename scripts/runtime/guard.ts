/**
 * @module
 * The runtime phase's check (docs/PROTOCOL.md §17): may this module file be loaded? Files of
 * packages in a namespace the pins bind to a registry load only if the verification receipt is
 * present, signed by this machine's receipt key, made for the lockfile(s) on disk, lists the
 * package, and the file's bytes equal the per-file digest the publisher signed. Everything else
 * loads unchanged. Shared by the CommonJS patch (hook.ts) and the ESM loader (loader.ts).
 */

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, sep } from "node:path";
import { namespaceOf, parsePins, resolvePin, type Pins, type Receipt, type ReceiptPackage } from "../../src/core/index.js";

/** Everything the check needs, serialisable so the ESM loader thread gets the same view. */
export interface GuardState {
  projectDir: string;
  pins: Pins | null;
  receipt: Receipt | null;
  /** Why the receipt cannot be used (missing, forged, for another lockfile); null when it can. */
  problem: string | null;
}

export class UnverifiedModuleError extends Error {
  readonly code = "ERR_COUNTERSIGN_UNVERIFIED_MODULE";
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

export function createGuard(state: GuardState) {
  const byName = new Map<string, ReceiptPackage[]>();
  for (const p of state.receipt?.packages ?? []) byName.set(p.name, [...(byName.get(p.name) ?? []), p]);
  const versionAt = new Map<string, ReceiptPackage | string>();

  function enforced(name: string): boolean {
    if (!state.pins) return false;
    return resolvePin(state.pins, name).rule.kind === "registry";
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
    const pkg = packageOfPath(filename);
    if (!pkg || !enforced(pkg.name) || namespaceOf(pkg.name) === "") return;
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

/** Finds the project (the nearest directory upward with a pins file). */
export function findProject(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "countersign.json"))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

export function parsePinsFile(projectDir: string): { pins: Pins | null; problem: string | null } {
  try {
    const parsed = parsePins(JSON.parse(readFileSync(join(projectDir, "countersign.json"), "utf8")));
    return parsed.ok ? { pins: parsed.value, problem: null } : { pins: null, problem: `countersign.json is invalid: ${parsed.error}` };
  } catch {
    return { pins: null, problem: "countersign.json is not readable JSON" };
  }
}
