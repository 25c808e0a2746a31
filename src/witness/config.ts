/**
 * @module
 * Turns the witness's variables and secret into a checked configuration, once per isolate (per
 * distinct set of values). A misconfigured witness answers 500 and names the variable, never the
 * secret's value.
 */

import {
  COSIGNATURE_TYPE,
  cosignatureSigner,
  createSigner,
  formatVerifierKey,
  fromBase64,
  isValidKeyName,
  newNoteVerifier,
  SEED_LENGTH,
  type NoteSigner,
  type NoteVerifier,
} from "../core/index.js";
import type { WitnessEnv } from "./env.js";

export interface KnownLog {
  /** The checkpoint origin line, which is also the name of each of its keys. */
  readonly origin: string;
  /** The vkeys as configured (for `GET /`). */
  readonly vkeys: readonly string[];
  readonly verifiers: readonly NoteVerifier[];
}

export interface WitnessConfig {
  readonly name: string;
  /** The witness's cosignature/v1 verifier key (type 0x04): what operators pin. */
  readonly vkey: string;
  readonly cosigner: NoteSigner;
  /** Known logs by origin. */
  readonly logs: ReadonlyMap<string, KnownLog>;
}

/** A configuration problem: a 500 naming the variable. */
export class MisconfiguredError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`witness is misconfigured: ${variable} ${problem}`);
    this.name = "MisconfiguredError";
  }
}

let cached: { key: string; config: Promise<WitnessConfig> } | undefined;

/**
 * The checked configuration. Throws `MisconfiguredError` (asynchronously) for a missing or bad
 * variable. `now` stamps cosignatures (POSIX seconds); tests pass a fixed clock.
 */
export function readWitnessConfig(env: WitnessEnv, now?: () => number): Promise<WitnessConfig> {
  // A test clock must not be cached into the isolate's shared configuration.
  if (now) return buildConfig(env, now);
  const key = JSON.stringify([env.WITNESS_SIGNING_KEY ?? null, env.WITNESS_NAME ?? null, env.WITNESS_LOGS ?? null]);
  if (cached?.key !== key) {
    const config = buildConfig(env);
    // A failed build is not kept: the next request retries (and fails the same way, with its message).
    config.catch(() => {
      if (cached?.config === config) cached = undefined;
    });
    cached = { key, config };
  }
  return cached.config;
}

async function buildConfig(env: WitnessEnv, now?: () => number): Promise<WitnessConfig> {
  const name = env.WITNESS_NAME?.trim() ?? "";
  if (!name) throw new MisconfiguredError("WITNESS_NAME", "is not set (see witness.wrangler.toml)");
  if (!isValidKeyName(name)) throw new MisconfiguredError("WITNESS_NAME", 'is not a key name (no spaces, no "+")');
  const secret = env.WITNESS_SIGNING_KEY;
  if (!secret) throw new MisconfiguredError("WITNESS_SIGNING_KEY", "is not set (wrangler secret put WITNESS_SIGNING_KEY -c witness.wrangler.toml)");
  // The same encoding as the registry's REGISTRY_SIGNING_KEY (src/worker/config.ts): base64 of the seed.
  const seed = fromBase64(secret.trim());
  if (!seed || seed.length !== SEED_LENGTH) throw new MisconfiguredError("WITNESS_SIGNING_KEY", "is not base64 of a 32-byte Ed25519 seed");
  const signer = await createSigner(seed);
  const cosigner = await cosignatureSigner(name, signer, now);
  const vkey = await formatVerifierKey(name, COSIGNATURE_TYPE, signer.publicKey);
  return { name, vkey, cosigner, logs: await parseLogs(env.WITNESS_LOGS ?? "") };
}

/** Parses WITNESS_LOGS: Ed25519 note vkeys (type 0x01), grouped by their name, the log origin. */
export async function parseLogs(text: string): Promise<ReadonlyMap<string, KnownLog>> {
  const entries = text
    .split(/[\n,]/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  if (entries.length === 0) throw new MisconfiguredError("WITNESS_LOGS", "names no log (one note verifier key per line)");
  const logs = new Map<string, { origin: string; vkeys: string[]; verifiers: NoteVerifier[] }>();
  for (const [i, vkey] of entries.entries()) {
    const verifier = await newNoteVerifier(vkey);
    // A vkey is public: naming the entry by position is enough to find it.
    if (!verifier.ok) throw new MisconfiguredError("WITNESS_LOGS", `entry ${i + 1} is not an Ed25519 note verifier key: ${verifier.error}`);
    const origin = verifier.value.name;
    const log = logs.get(origin) ?? { origin, vkeys: [], verifiers: [] };
    if (log.vkeys.includes(vkey)) continue;
    // Two different keys with one name and key hash would make every note ambiguous (note.ts).
    if (log.verifiers.some((v) => v.keyHash === verifier.value.keyHash)) throw new MisconfiguredError("WITNESS_LOGS", `entry ${i + 1} repeats a key hash of ${origin}`);
    log.vkeys.push(vkey);
    log.verifiers.push(verifier.value);
    logs.set(origin, log);
  }
  return logs;
}
