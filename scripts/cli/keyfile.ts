/**
 * @module
 * Publisher key files: JSON holding the Ed25519 seed, written 0600 in a 0700 directory and
 * refused when others can read it (as ssh does). In CI the same JSON can come from the
 * COUNTERSIGN_KEY environment variable instead of a file.
 */

import { chmodSync, mkdirSync, openSync, readFileSync, statSync, writeSync, closeSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { fromBase64, keyPairFromSeed, SEED_LENGTH, toBase64, type KeyPair } from "../../src/core/index.js";
import { CliError, EXIT } from "./errors.js";

export const KEY_FILE_TYPE = "countersign-private-key";

export function defaultKeyPath(): string {
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(base, "countersign", "publisher-key.json");
}

export function writeKeyFile(path: string, pair: KeyPair, force: boolean): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const text = `${JSON.stringify({ type: KEY_FILE_TYPE, version: 1, algorithm: "ed25519", keyid: pair.keyid, publicKey: toBase64(pair.publicKey), seed: toBase64(pair.seed) }, null, 2)}\n`;
  let fd: number;
  try {
    fd = openSync(path, force ? "w" : "wx", 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") throw new CliError(`${path} already exists; pass --force to replace it (the old key is lost)`, EXIT.usage);
    throw new CliError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  chmodSync(path, 0o600); // in case the file existed with a looser mode (--force)
}

export async function readKeyFile(path: string | undefined): Promise<KeyPair> {
  const fromEnv = process.env.COUNTERSIGN_KEY;
  let text: string;
  let source: string;
  if (!path && fromEnv) {
    text = fromEnv;
    source = "COUNTERSIGN_KEY";
  } else {
    source = path ?? defaultKeyPath();
    try {
      const mode = statSync(source).mode;
      if (process.platform !== "win32" && mode & 0o077) {
        throw new CliError(`${source} is readable by other users (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${source}`, EXIT.usage);
      }
      text = readFileSync(source, "utf8");
    } catch (err) {
      if (err instanceof CliError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new CliError(code === "ENOENT" ? `no publisher key at ${source}: create one with \`countersign keygen\`` : `cannot read ${source}: ${code}`, EXIT.usage);
    }
  }
  let parsed: { type?: unknown; seed?: unknown; keyid?: unknown };
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`${source} is not a countersign key file (not JSON)`, EXIT.usage);
  }
  const seed = parsed.type === KEY_FILE_TYPE && typeof parsed.seed === "string" ? fromBase64(parsed.seed) : undefined;
  if (!seed || seed.length !== SEED_LENGTH) throw new CliError(`${source} is not a countersign key file`, EXIT.usage);
  const pair = await keyPairFromSeed(seed);
  if (parsed.keyid !== pair.keyid) throw new CliError(`${source}: keyid does not match the key it holds`, EXIT.usage);
  return pair;
}
