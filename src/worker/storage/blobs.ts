/**
 * @module
 * Artifact bytes, content-addressed by sha512. The store itself rejects bytes whose digest is not
 * the key they are written under, so a key always names exactly one byte sequence and writes are
 * idempotent: the same bytes may be written twice, different bytes never share a key.
 */

export interface StoredBlob {
  body: ReadableStream<Uint8Array>;
  size: number;
}

export interface BlobStore {
  /** Writes exactly `size` bytes from `body` under `sha512` (hex); rejects if the digest differs. */
  put(sha512: string, body: ReadableStream<Uint8Array>, size: number): Promise<void>;
  get(sha512: string): Promise<StoredBlob | null>;
}

export const blobKey = (sha512: string) => `artifacts/sha512/${sha512}`;

export function r2BlobStore(bucket: R2Bucket): BlobStore {
  return {
    async put(sha512, body, size) {
      // R2 needs a known length to stream; it verifies the sha512 checksum before committing.
      const fixed = new FixedLengthStream(size);
      const piping = body.pipeTo(fixed.writable);
      const [stored, piped] = await Promise.allSettled([
        bucket.put(blobKey(sha512), fixed.readable, { sha512, httpMetadata: { contentType: "application/octet-stream" } }),
        piping,
      ]);
      if (stored.status === "rejected") throw stored.reason;
      if (piped.status === "rejected") throw piped.reason;
    },
    async get(sha512) {
      const object = await bucket.get(blobKey(sha512));
      return object ? { body: object.body, size: object.size } : null;
    },
  };
}
