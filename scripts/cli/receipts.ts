/**
 * @module
 * Receipts on the machine that verified: written after a successful `verify`, read back by the
 * runtime hook and by the next `verify` (for publisher continuity). Signed with a local receipt
 * key kept in the user's config directory (0600), outside the project, so whatever can write to
 * node_modules cannot also mint a receipt.
 */

import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { createSigner, generateKeyPair, openReceipt, RECEIPT_FILE, RECEIPT_TYPE, signReceipt, type KeyPair, type Receipt, type ReceiptPackage } from "../../src/core/index.js";
import { defaultKeyPath, readKeyFile, writeKeyFile } from "./keyfile.js";

export function receiptKeyPath(): string {
  return process.env.COUNTERSIGN_RECEIPT_KEY_FILE ?? join(dirname(defaultKeyPath()), "receipt-key.json");
}

/** The local receipt key, created on first use. */
export async function receiptKey(create: boolean): Promise<KeyPair | undefined> {
  const path = receiptKeyPath();
  if (existsSync(path)) return readKeyFile(path);
  if (!create) return undefined;
  const pair = await generateKeyPair();
  writeKeyFile(path, pair, false);
  return pair;
}

export const sha256File = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

export async function writeReceipt(dir: string, lockfiles: string[], namespaces: string[], packages: ReceiptPackage[]): Promise<string> {
  const key = (await receiptKey(true))!;
  const receipt: Receipt = {
    type: RECEIPT_TYPE,
    createdAt: new Date().toISOString(),
    lockfiles: lockfiles.map((path) => ({ path: relative(dir, path), sha256: sha256File(path) })),
    namespaces,
    packages,
  };
  const path = join(dir, RECEIPT_FILE);
  writeFileSync(path, `${JSON.stringify(await signReceipt(receipt, await createSigner(key)), null, 2)}\n`);
  return path;
}

/** The receipt in `dir` if it verifies under this machine's receipt key; undefined otherwise. */
export async function readReceipt(dir: string): Promise<Receipt | undefined> {
  const path = join(dir, RECEIPT_FILE);
  const key = await receiptKey(false).catch(() => undefined);
  if (!key || !existsSync(path)) return undefined;
  try {
    const opened = await openReceipt(JSON.parse(readFileSync(path, "utf8")), key.publicKey, key.keyid);
    return opened.ok ? opened.value : undefined;
  } catch {
    return undefined;
  }
}
