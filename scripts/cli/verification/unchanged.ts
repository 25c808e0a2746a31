/**
 * @module
 * Re-verification of an unchanged project is free: a passing `verify` records in its signed
 * receipt a digest of everything it read (the pins file, every lockfile, package.json) and the
 * client version. The next `verify` that finds a receipt signed by a trusted receipt key with
 * the same digest and version returns its verdict without fetching or verifying anything. Any
 * changed byte, another lockfile appearing, another client version or `--no-cache` re-verifies.
 * Packages are immutable, so an unchanged input has an unchanged answer — until the registry says
 * something new about them: a revoked publisher key, a version withdrawn from its signed list. So
 * a verdict holds only until the earliest expiry of the signed metadata it relied on (`validUntil`,
 * at most 24 hours after the registry issued it; PROTOCOL §19) and is then verified afresh: this
 * machine's view of revocations is never staler than that.
 */

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { MAX_METADATA_VALIDITY_MS, type Receipt, type ReceiptVerdict } from "../../../src/core/index.js";
import { lockfilePaths } from "../lockfiles/paths.js";
import { readPinsFile } from "../pins-file.js";
import { readReceiptVerdict } from "../receipts.js";
import { VERSION } from "../version.js";

/** SHA-256 (hex) over the path and bytes of every input of a verification. */
export function inputsDigest(dir: string, pinsPath: string, lockfiles: string[]): string {
  const inputs = [pinsPath, ...[...lockfiles].sort(), join(dir, "package.json")];
  const hash = createHash("sha256");
  for (const path of inputs) {
    const bytes = existsSync(path) ? readFileSync(path) : undefined;
    hash.update(`${relative(dir, path)}\0${bytes ? createHash("sha256").update(bytes).digest("hex") : "absent"}\n`);
  }
  return hash.digest("hex");
}

export function verdictFor(dir: string, pinsPath: string, lockfiles: string[], summary: { total: number; verified: number; unverified: number }, validUntil?: string): NonNullable<Receipt["verdict"]> {
  return { inputs: inputsDigest(dir, pinsPath, lockfiles), verifier: VERSION, summary, ...(validUntil ? { validUntil } : {}) };
}

/** Until when a verdict may be reused: its metadata's earliest expiry, else (no pinned package, or an older receipt) a day after it was made. */
export function verdictExpiry(receipt: Pick<ReceiptVerdict, "createdAt" | "verdict">): number {
  const validUntil = receipt.verdict?.validUntil;
  return validUntil ? Date.parse(validUntil) : Date.parse(receipt.createdAt) + MAX_METADATA_VALIDITY_MS;
}

/** The receipt whose verdict still holds for this project, or undefined when it must be verified. */
export async function unchangedSinceReceipt(options: { dir: string; pinsPath: string; lockfiles: string[] }): Promise<ReceiptVerdict | undefined> {
  const pins = readPinsFile(options.pinsPath);
  if (!pins.ok) return undefined;
  let lockfiles: string[];
  try {
    lockfiles = lockfilePaths(options.dir, options.lockfiles);
  } catch {
    return undefined;
  }
  const receipt = await readReceiptVerdict(options.dir, { pins: pins.value });
  const verdict = receipt?.verdict;
  if (!receipt || !verdict || verdict.verifier !== VERSION) return undefined;
  if (!(Date.now() < verdictExpiry(receipt))) return undefined;
  const recorded = new Set(receipt.lockfiles.map((l) => l.path));
  if (recorded.size !== lockfiles.length || !lockfiles.every((f) => recorded.has(relative(options.dir, f)))) return undefined;
  return verdict.inputs === inputsDigest(options.dir, options.pinsPath, lockfiles) ? receipt : undefined;
}
