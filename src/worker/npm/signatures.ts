/**
 * @module
 * npm registry signatures in packuments (docs/PROTOCOL.md §11, "Registry signatures"): each npm
 * version's `dist.signatures` is `[{ keyid, sig }]`, ECDSA P-256 over `<name>@<version>:<integrity>`
 * by NPM_SIGNING_KEY (core/npm-signatures.ts), the key `GET /-/npm/v1/keys` serves and the identity
 * document lists. `npm audit signatures` checks them.
 *
 * Signed at publish and stored with the version (migrations/0006). The backfill is lazy: a
 * packument build (full, abbreviated, or one version's document) signs the npm versions that have
 * no signature by the current key (published before the key existed, or under an earlier key),
 * serves them at once and stores them, so each version is signed once per key and every later
 * read is constant work. A signature by any other key is never served: npm would find no key for
 * it and fail the whole audit (EMISSINGSIGNATUREKEY), so after a key change every version is
 * re-signed on its package's next build.
 */

import type { NpmSignature, NpmSigner } from "../../core/index.js";
import { sriFromHex } from "../../core/index.js";
import type { NpmSignatureUpdate, PackumentRow } from "../storage/meta.js";

/** The stored signature of a version if it was made by `keyid`, else null. */
export function storedNpmSignature(row: Pick<PackumentRow, "npmSignature">, keyid: string | null): NpmSignature | null {
  if (!keyid || !row.npmSignature) return null;
  try {
    const parsed = JSON.parse(row.npmSignature) as Partial<NpmSignature>;
    return parsed.keyid === keyid && typeof parsed.sig === "string" ? { keyid: parsed.keyid, sig: parsed.sig } : null;
  } catch {
    return null;
  }
}

/**
 * Signs the npm versions of `rows` that have no signature by `signer` (updating the rows in
 * place) and returns what to store (`MetaStore.rememberNpmSignatures`). Nothing without a signer.
 */
export async function completeNpmSignatures(rows: PackumentRow[], signer: NpmSigner | null): Promise<NpmSignatureUpdate[]> {
  if (!signer) return [];
  const updates: NpmSignatureUpdate[] = [];
  for (const row of rows) {
    if (row.manifest === null || storedNpmSignature(row, signer.keyid)) continue;
    row.npmSignature = JSON.stringify(await signer.sign(row.name, row.version, sriFromHex("sha512", row.sha512)));
    updates.push({ name: row.name, version: row.version, keyid: signer.keyid, signature: row.npmSignature });
  }
  return updates;
}
