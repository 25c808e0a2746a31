/**
 * @module
 * Which registry key signs now (PROTOCOL §21). Normally REGISTRY_SIGNING_KEY. During a rotation
 * the operator adds the successor as REGISTRY_NEXT_SIGNING_KEY; `POST /-/countersign/v1/admin/rotate`
 * has both keys sign the rotation statement, which is logged; from then on the successor signs
 * everything, and the operator moves it into REGISTRY_SIGNING_KEY at leisure (the overlap window).
 * A key a committed rotation retired never signs again: the commit refuses what it countersigned
 * (storage/d1.ts), so an isolate that has not seen the rotation yet asks again (`fresh`).
 *
 * The answer is remembered per isolate for a few seconds (one D1 read per signing request would
 * cost every publish and packument a round trip); the Durable Object that signs checkpoints
 * always asks afresh.
 */

import { createSigner, fromBase64, parseRotation, SEED_LENGTH, type KeyRotation, type Signer } from "../core/index.js";
import { registrySigner } from "./config.js";
import type { Env } from "./env.js";
import { ApiError } from "./errors.js";

export interface Rotated {
  from: string;
  to: string;
}

/** How long an isolate trusts its last answer. */
const MEMO_MS = 10_000;
let memo: { config: string; at: number; signer: Signer } | undefined;

let cachedNext: { secret: string; signer: Promise<Signer> } | undefined;

/** The successor key during a rotation (REGISTRY_NEXT_SIGNING_KEY), or null. */
export function nextSigner(env: Env): Promise<Signer> | null {
  const secret = env.REGISTRY_NEXT_SIGNING_KEY;
  if (!secret) return null;
  if (cachedNext?.secret !== secret) {
    const seed = fromBase64(secret.trim());
    if (!seed || seed.length !== SEED_LENGTH) throw misconfigured("REGISTRY_NEXT_SIGNING_KEY is not base64 of a 32-byte Ed25519 seed");
    cachedNext = { secret, signer: createSigner(seed) };
  }
  return cachedNext.signer;
}

/** The key that signs now, given the committed rotations (`rotations`, log order). */
export async function currentSigner(env: Env, rotations: () => Promise<readonly Rotated[]>, options: { fresh?: boolean } = {}): Promise<Signer> {
  const current = await registrySigner(env);
  const next = await nextSigner(env);
  const config = `${current.keyid} ${next?.keyid ?? ""}`;
  if (!options.fresh && memo?.config === config && Date.now() - memo.at < MEMO_MS) return memo.signer;
  const head = (await rotations()).at(-1)?.to;
  let signer: Signer;
  if (head === undefined || head === current.keyid) signer = current;
  else if (next && head === next.keyid) signer = next;
  else throw misconfigured(`the registry's key is ${head} (its last logged rotation), but REGISTRY_SIGNING_KEY is ${current.keyid}${next ? ` and REGISTRY_NEXT_SIGNING_KEY ${next.keyid}` : ""}: set REGISTRY_SIGNING_KEY to the key the registry rotated to`);
  memo = { config, at: Date.now(), signer };
  return signer;
}

/** Forgets the remembered answer (after this isolate committed a rotation). */
export function forgetCurrentSigner(): void {
  memo = undefined;
}

const misconfigured = (why: string) => new ApiError(500, "misconfigured", `registry is misconfigured: ${why} (see README: Rotating the registry key)`);

/** The rotations this registry committed (storage rows, its own signed envelopes), parsed. */
export function loggedRotations(rows: readonly { envelope: string }[]): KeyRotation[] {
  return rows.flatMap((r) => {
    const payload = (JSON.parse(r.envelope) as { payload?: unknown }).payload;
    const parsed = typeof payload === "string" ? parseRotation(fromBase64(payload) ?? new Uint8Array()) : undefined;
    return parsed?.ok ? [parsed.value] : [];
  });
}

