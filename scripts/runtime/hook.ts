/**
 * @module
 * The runtime hook: `node --import countersign/hook app.js` (or the path of dist/hook.mjs).
 *
 * At start-up it loads the pins and the verification receipt of the project (the nearest
 * directory upward with a countersign.json, or COUNTERSIGN_PROJECT_DIR), checks the receipt's
 * signature with this machine's receipt key and its binding to the lockfile(s) on disk, then
 * checks every module file before it runs: CommonJS through Module._extensions, ES modules
 * through a loader registered with module.register. See guard.ts for the rule.
 */

import { existsSync, readFileSync } from "node:fs";
import Module, { register } from "node:module";
import { join } from "node:path";
import { openReceipt, RECEIPT_FILE } from "../../src/core/index.js";
import { LOCKFILES } from "../cli/lockfile-names.js";
import { receiptKey, sha256File } from "../cli/receipts.js";
import { createGuard, findProject, parsePinsFile, type GuardState } from "./guard.js";

async function loadState(): Promise<GuardState | undefined> {
  const projectDir = process.env.COUNTERSIGN_PROJECT_DIR ?? findProject(process.cwd());
  if (!projectDir) return undefined; // no pins: nothing is pinned, nothing to enforce
  const { pins, problem: pinsProblem } = parsePinsFile(projectDir);
  const state: GuardState = { projectDir, pins, receipt: null, problem: pinsProblem };
  if (state.problem) return state;
  const path = process.env.COUNTERSIGN_RECEIPT ?? join(projectDir, RECEIPT_FILE);
  if (!existsSync(path)) return { ...state, problem: `no verification receipt at ${path}: run countersign verify` };
  const key = await receiptKey(false).catch(() => undefined);
  if (!key) return { ...state, problem: "this machine has no receipt key, so the receipt cannot be checked: run countersign verify here" };
  let opened;
  try {
    opened = await openReceipt(JSON.parse(readFileSync(path, "utf8")), key.publicKey, key.keyid);
  } catch {
    return { ...state, problem: `${path} is not readable JSON` };
  }
  if (!opened.ok) return { ...state, problem: opened.error };
  const receipt = opened.value;
  for (const lock of receipt.lockfiles) {
    const onDisk = join(projectDir, lock.path);
    if (!existsSync(onDisk) || sha256File(onDisk) !== lock.sha256) return { ...state, problem: `the receipt is for another lockfile (${lock.path} changed since countersign verify)` };
  }
  const unlisted = LOCKFILES.filter((f) => existsSync(join(projectDir, f)) && !receipt.lockfiles.some((l) => l.path === f));
  if (unlisted.length) return { ...state, problem: `the receipt does not cover ${unlisted.join(", ")}` };
  return { ...state, receipt };
}

const state = await loadState();
if (state) {
  const check = createGuard(state);
  // CommonJS: check the bytes before the original loader compiles them.
  const extensions = (Module as unknown as { _extensions: Record<string, (module: unknown, filename: string) => void> })._extensions;
  for (const extension of [".js", ".cjs", ".mjs", ".json", ".node"]) {
    const original = extensions[extension];
    if (!original) continue;
    extensions[extension] = function (this: unknown, module: unknown, filename: string) {
      check(filename, readFileSync(filename));
      return original.call(this, module, filename);
    };
  }
  // ES modules: the same check in the loader thread, on the exact bytes it loads.
  register(new URL("./hook-loader.mjs", import.meta.url), { data: state });
}
