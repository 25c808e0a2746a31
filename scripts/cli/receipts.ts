/**
 * @module
 * Receipts on the machine that verified: written after a successful `verify`, read back by the
 * runtime hook and by the next `verify` (for publisher continuity).
 *
 * The receipt key is never in the project, so whatever can write to node_modules cannot also
 * mint a receipt. It is, first found:
 *   - COUNTERSIGN_RECEIPT_KEY: the key itself (a key file's JSON, or a base64 32-byte seed), for
 *     CI, where it is a secret: receipts made there carry its public key, and any machine whose
 *     countersign.json lists its fingerprint under `receipts.signers` accepts them;
 *   - COUNTERSIGN_RECEIPT_KEY_FILE: a key file;
 *   - the user's config directory (`receipt-key.json`, 0600), made on first use.
 * A receipt opens under this machine's key or under a signer the pins list (core/receipt.ts).
 */

import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import {
  createSigner,
  fail,
  fromBase64,
  generateKeyPair,
  keyPairFromSeed,
  openReceiptVerdict,
  openTrustedReceipt,
  PINS_FILE,
  RECEIPT_FILE,
  RECEIPT_TYPE,
  SEED_LENGTH,
  signReceipt,
  toBase64,
  type KeyPair,
  type Pins,
  type Receipt,
  type ReceiptPackage,
  type ReceiptTrust,
  type ReceiptVerdict,
  type Result,
} from "../../src/core/index.js";
import { CliError, EXIT } from "./errors.js";
import { defaultKeyPath, KEY_FILE_TYPE, readKeyFile, writeKeyFile } from "./keyfile.js";

export const RECEIPT_KEY_ENV = "COUNTERSIGN_RECEIPT_KEY";
export const RECEIPT_KEY_FILE_ENV = "COUNTERSIGN_RECEIPT_KEY_FILE";

/** Optional trailing argument of readReceipt: the parsed pins, for the signers they trust. */
export interface ReceiptOptions {
  pins?: Pins | null;
}

export function receiptKeyPath(): string {
  return process.env[RECEIPT_KEY_FILE_ENV] || join(dirname(defaultKeyPath()), "receipt-key.json");
}

/** The receipt key (environment, key file, or the one in the config directory, created on first use). */
export async function receiptKey(create: boolean): Promise<KeyPair | undefined> {
  const fromEnv = process.env[RECEIPT_KEY_ENV];
  if (fromEnv) return keyFromText(fromEnv, RECEIPT_KEY_ENV);
  const path = receiptKeyPath();
  if (existsSync(path)) return readKeyFile(path);
  if (!create) return undefined;
  refuseKeyInProject(path);
  const pair = await generateKeyPair();
  writeKeyFile(path, pair, false);
  return pair;
}

/** A key given as text: a countersign key file's JSON, or a base64 32-byte seed. */
export async function keyFromText(text: string, source: string): Promise<KeyPair> {
  const trimmed = text.trim();
  if (!trimmed.startsWith("{")) {
    const seed = fromBase64(trimmed);
    if (!seed || seed.length !== SEED_LENGTH) throw new CliError(`${source} is neither a countersign key file's JSON nor a base64 32-byte seed`, EXIT.usage);
    return keyPairFromSeed(seed);
  }
  let parsed: { type?: unknown; seed?: unknown; keyid?: unknown };
  try {
    parsed = JSON.parse(trimmed) as typeof parsed;
  } catch {
    throw new CliError(`${source} is not valid JSON`, EXIT.usage);
  }
  const seed = parsed.type === KEY_FILE_TYPE && typeof parsed.seed === "string" ? fromBase64(parsed.seed) : undefined;
  if (!seed || seed.length !== SEED_LENGTH) throw new CliError(`${source} is not a countersign key file`, EXIT.usage);
  const pair = await keyPairFromSeed(seed);
  if (parsed.keyid !== pair.keyid) throw new CliError(`${source}: keyid does not match the key it holds`, EXIT.usage);
  return pair;
}

/** A private key must not be created inside a project (a directory with countersign.json above it). */
export function refuseKeyInProject(path: string): void {
  for (let dir = dirname(resolve(path)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, PINS_FILE))) {
      throw new CliError(`refusing to write a private receipt key inside the project ${dir} (${path}): keep it outside, e.g. in your config directory or a CI secret`, EXIT.usage);
    }
    if (dirname(dir) === dir) return;
  }
}

/** Who may sign the receipts this machine acts on: its own key and the signers the pins list. */
export async function receiptTrust(pins: Pins | null | undefined): Promise<ReceiptTrust> {
  const own = await receiptKey(false).catch(() => undefined);
  return { ...(own ? { own: { keyid: own.keyid, publicKey: own.publicKey } } : {}), signers: pins?.receipts?.signers ?? [] };
}

export const sha256File = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

export async function writeReceipt(dir: string, lockfiles: string[], namespaces: string[], packages: ReceiptPackage[], verdict?: Receipt["verdict"]): Promise<string> {
  const key = (await receiptKey(true))!;
  const receipt: Receipt = {
    type: RECEIPT_TYPE,
    createdAt: new Date().toISOString(),
    signer: { keyid: key.keyid, publicKey: toBase64(key.publicKey) },
    lockfiles: lockfiles.map((path) => ({ path: relative(dir, path), sha256: sha256File(path) })),
    namespaces,
    packages,
    ...(verdict ? { verdict } : {}),
  };
  const path = join(dir, RECEIPT_FILE);
  writeFileSync(path, `${JSON.stringify(await signReceipt(receipt, await createSigner(key)), null, 2)}\n`);
  return path;
}

function readReceiptJson(path: string): Result<unknown> {
  try {
    return { ok: true, value: JSON.parse(readFileSync(path, "utf8")) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(code === "ENOENT" ? `no verification receipt at ${path}: run countersign verify` : code ? `${path} cannot be read (${code})` : `${path} is not readable JSON`);
  }
}

/** Opens the receipt at `path` under `trust`: the receipt, or why it cannot be used. */
export async function openReceiptFile(path: string, trust: ReceiptTrust): Promise<Result<Receipt>> {
  const value = readReceiptJson(path);
  return value.ok ? openTrustedReceipt(value.value, trust) : value;
}

/** The verdict part of the receipt in `dir` (see core openReceiptVerdict), if it opens under the trusted keys. */
export async function readReceiptVerdict(dir: string, options: ReceiptOptions = {}): Promise<ReceiptVerdict | undefined> {
  const value = readReceiptJson(join(dir, RECEIPT_FILE));
  if (!value.ok) return undefined;
  const opened = await openReceiptVerdict(value.value, await receiptTrust(options.pins));
  return opened.ok ? opened.value : undefined;
}

/**
 * The receipt in `dir` if it verifies under this machine's receipt key or a signer listed in
 * `options.pins` (pass the parsed pins so receipts made in CI count); undefined otherwise.
 */
export async function readReceipt(dir: string, options: ReceiptOptions = {}): Promise<Receipt | undefined> {
  const opened = await openReceiptFile(join(dir, RECEIPT_FILE), await receiptTrust(options.pins));
  return opened.ok ? opened.value : undefined;
}
