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

export interface ListedBlob {
  sha512: string;
  /** When the blob was last written (a content-addressed rewrite refreshes it). */
  uploaded: Date;
}

export interface BlobStore {
  /** Writes exactly `size` bytes from `body` under `sha512` (hex); rejects if the digest differs. */
  put(sha512: string, body: ReadableStream<Uint8Array>, size: number): Promise<void>;
  get(sha512: string): Promise<StoredBlob | null>;
  /**
   * Up to `limit` (at most 1000) blobs in key order after `after` (null: from the start). `last`
   * is where the next page starts (the last key listed), `more` whether the listing goes on.
   */
  list(after: string | null, limit: number): Promise<{ blobs: ListedBlob[]; last: string | null; more: boolean }>;
  /** Deletes up to 1000 blobs; absent ones are ignored. */
  delete(sha512s: string[]): Promise<void>;
}

const PREFIX = "artifacts/sha512/";
const SHA512_HEX = /^[0-9a-f]{128}$/;

export const blobKey = (sha512: string) => `${PREFIX}${sha512}`;

export function r2BlobStore(bucket: R2Bucket): BlobStore {
  return {
    async put(sha512, body, size) {
      // R2 needs a known length to stream; it verifies the sha512 checksum before committing.
      const fixed = new FixedLengthStream(size);
      const [stored, piped] = await Promise.allSettled([
        bucket.put(blobKey(sha512), fixed.readable, { sha512, httpMetadata: { contentType: "application/octet-stream" } }),
        feed(body, fixed.writable),
      ]);
      if (stored.status === "rejected") throw stored.reason;
      if (piped.status === "rejected") throw piped.reason;
    },
    async get(sha512) {
      const object = await bucket.get(blobKey(sha512));
      return object ? { body: object.body, size: object.size } : null;
    },
    async list(after, limit) {
      const listed = await bucket.list({ prefix: PREFIX, limit, ...(after ? { startAfter: blobKey(after) } : {}) });
      // Only keys this store writes: anything else under the prefix is not ours to collect.
      const blobs = listed.objects.map((o) => ({ sha512: o.key.slice(PREFIX.length), uploaded: o.uploaded })).filter((b) => SHA512_HEX.test(b.sha512));
      const last = listed.objects.at(-1)?.key.slice(PREFIX.length) ?? null;
      return { blobs, last, more: listed.truncated && last !== null };
    },
    async delete(sha512s) {
      if (sha512s.length) await bucket.delete(sha512s.map(blobKey));
    },
  };
}

/**
 * `body.pipeTo(writable)` by hand: workerd reports some rejections inside its own pipe (a body that
 * errors before its first byte) as uncaught; here every one is handled. A failed body aborts the
 * writable, so R2 sees a short stream and stores nothing; a failed write cancels the body.
 */
async function feed(body: ReadableStream<Uint8Array>, writable: WritableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  const writer = writable.getWriter();
  writer.closed.catch(() => undefined);
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) await writer.write(chunk.value);
  } catch (err) {
    await Promise.all([writer.abort(err).catch(() => undefined), reader.cancel(err).catch(() => undefined)]);
    throw err;
  }
  await writer.close();
}
