/**
 * @module
 * Content digests with the platform's native `crypto.subtle.digest` (never a JS hash), and the
 * Subresource Integrity strings npm writes into lockfiles (`sha512-<base64>`).
 */

import { bufferSource, fromBase64, fromHex, toBase64, toHex } from "./bytes.js";

export type DigestAlgorithm = "sha256" | "sha512";

const SUBTLE_NAME: Record<DigestAlgorithm, string> = { sha256: "SHA-256", sha512: "SHA-512" };
const DIGEST_LENGTH: Record<DigestAlgorithm, number> = { sha256: 32, sha512: 64 };

export async function digest(algorithm: DigestAlgorithm, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest(SUBTLE_NAME[algorithm], bufferSource(data)));
}

export const sha256 = (data: Uint8Array) => digest("sha256", data);
export const sha512 = (data: Uint8Array) => digest("sha512", data);

/** The digests every artifact is identified by, as lowercase hex (in-toto's convention). */
export interface ArtifactDigests {
  sha256: string;
  sha512: string;
}

export async function artifactDigests(data: Uint8Array): Promise<ArtifactDigests> {
  const [a, b] = await Promise.all([sha256(data), sha512(data)]);
  return { sha256: toHex(a), sha512: toHex(b) };
}

/** True when `hex` is a lowercase hex digest of the right length for `algorithm`. */
export function isHexDigest(algorithm: DigestAlgorithm, hex: unknown): hex is string {
  return typeof hex === "string" && hex.length === DIGEST_LENGTH[algorithm] * 2 && fromHex(hex) !== undefined;
}

/** `sha512-<base64>` from a hex sha512 digest, as npm's `dist.integrity`. */
export function sriFromHex(algorithm: DigestAlgorithm, hex: string): string {
  const bytes = fromHex(hex);
  if (!bytes || bytes.length !== DIGEST_LENGTH[algorithm]) throw new RangeError(`"hex" expected a ${algorithm} digest`);
  return `${algorithm}-${toBase64(bytes)}`;
}

/**
 * Picks the digest for `algorithm` out of an SRI string (which may list several, space
 * separated, as npm lockfiles sometimes do) and returns it as hex, or `undefined` if absent or
 * malformed.
 */
export function hexFromSri(integrity: string, algorithm: DigestAlgorithm): string | undefined {
  for (const part of integrity.trim().split(/\s+/)) {
    const [name, value] = part.split("-", 2) as [string, string | undefined];
    if (name !== algorithm || value === undefined) continue;
    const bytes = fromBase64(value.split("?")[0]!);
    if (bytes && bytes.length === DIGEST_LENGTH[algorithm]) return toHex(bytes);
    return undefined;
  }
  return undefined;
}
