/**
 * @module
 * What the runtime hook knows at start-up (docs/PROTOCOL.md §17), computed once in the main
 * thread and handed to the ESM loader thread as plain data. It never switches the hook off:
 *
 * - the project comes from the entry module's location, not the working directory (project.ts);
 * - a missing, unreadable or invalid countersign.json is a problem, not "no pins": the namespaces
 *   a trusted receipt lists are enforced, and with no trusted receipt either, every file under
 *   node_modules is refused (lockdown);
 * - the receipt must be signed by this machine's receipt key or by a signer the pins list, and be
 *   made for the lockfile(s) on disk; otherwise pinned-namespace modules are refused;
 * - package directories of pinned names that are links elsewhere are found (installs.ts).
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { namespaceOf, PINS_FILE, RECEIPT_FILE, type Receipt, type Result } from "../../src/core/index.js";
import { LOCKFILES } from "../cli/lockfile-names.js";
import { readPinsFile } from "../cli/pins-file.js";
import { openReceiptFile, receiptTrust, sha256File } from "../cli/receipts.js";
import { isPinnedName, preservesSymlinks, type GuardState } from "./guard.js";
import { scanInstalls } from "./installs.js";
import { findProjectDir, type ProjectSearch } from "./project.js";

export const RECEIPT_PATH_ENV = "COUNTERSIGN_RECEIPT";

/** The guard's state, or undefined when no project is found (nothing is pinned, nothing to enforce). */
export async function loadGuardState(search: ProjectSearch & { execArgv: readonly string[] }): Promise<GuardState | undefined> {
  const projectDir = findProjectDir(search);
  if (!projectDir) return undefined;
  const pins = readPinsFile(join(projectDir, PINS_FILE));
  const usablePins = pins.ok ? pins.value : null;
  const receiptPath = search.env[RECEIPT_PATH_ENV] || join(projectDir, RECEIPT_FILE);
  const opened = await openReceiptFile(receiptPath, await receiptTrust(usablePins)).catch((err: unknown): Result<Receipt> => ({ ok: false, error: `the receipt cannot be checked: ${err instanceof Error ? err.message : String(err)}` }));
  const problem = opened.ok ? lockfileProblem(projectDir, opened.value) : opened.error;
  const receiptNamespaces = opened.ok ? opened.value.namespaces : [];
  const lockdown = pins.ok || opened.ok ? null : `${pins.error.message}, and no receipt signed by a trusted key says which namespaces are pinned (${opened.error}); fix countersign.json`;
  const pinned = { pins: usablePins, receiptNamespaces, lockdown };
  const byNamespace = new Map<string, boolean>(); // whether a name is pinned depends on its namespace only
  const isPinned = (name: string) => {
    const namespace = namespaceOf(name);
    let answer = byNamespace.get(namespace);
    if (answer === undefined) byNamespace.set(namespace, (answer = isPinnedName(pinned, name)));
    return answer;
  };
  const { swapped, unlisted } = scanInstalls(projectDir, isPinned);
  const nodeGivesRealPaths = !preservesSymlinks(search.execArgv, search.env);
  return { projectDir, pins: usablePins, receiptNamespaces, receipt: opened.ok && problem === null ? opened.value : null, problem, lockdown, swapped, unlisted, nodeGivesRealPaths };
}

/** Why a signed receipt does not describe what is on disk: a lockfile changed, or one it does not cover appeared. */
export function lockfileProblem(projectDir: string, receipt: Receipt): string | null {
  for (const lock of receipt.lockfiles) {
    const onDisk = join(projectDir, lock.path);
    if (!existsSync(onDisk) || digestOrUndefined(onDisk) !== lock.sha256) return `the receipt is for another lockfile (${lock.path} changed since countersign verify)`;
  }
  const unlisted = LOCKFILES.filter((f) => existsSync(join(projectDir, f)) && !receipt.lockfiles.some((l) => l.path === f));
  return unlisted.length ? `the receipt does not cover ${unlisted.join(", ")}` : null;
}

function digestOrUndefined(path: string): string | undefined {
  try {
    return sha256File(path);
  } catch {
    return undefined;
  }
}
