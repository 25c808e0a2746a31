/** An independent RFC 6962 Merkle tree for the workerd tests, by the definition, over WebCrypto (no stored hashes, no tiles). */

export const sha256 = async (...parts: Uint8Array[]) => new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(parts.flatMap((p) => [...p]))));

/** RFC 6962 leaf hash of an entry. */
export const referenceLeaf = (entry: Uint8Array) => sha256(Uint8Array.of(0), entry);

/** RFC 6962 §2.1 MTH of (at least one) leaf hashes. */
export async function referenceRoot(leaves: Uint8Array[]): Promise<Uint8Array> {
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha256(Uint8Array.of(1), await referenceRoot(leaves.slice(0, k)), await referenceRoot(leaves.slice(k)));
}
