/**
 * @module
 * Native streaming digests (workerd's `crypto.DigestStream`): the bytes are hashed as they pass
 * on their way to R2, never buffered.
 */

import { toHex } from "../core/index.js";

export interface StreamDigests {
  size: number;
  sha1: string;
  sha256: string;
  sha512: string;
}

/** Consumes `stream` and returns its size and digests. */
export async function digestStream(stream: ReadableStream<Uint8Array>): Promise<StreamDigests> {
  const algorithms = ["SHA-1", "SHA-256", "SHA-512"] as const;
  const digesters = algorithms.map((a) => new crypto.DigestStream(a));
  const writers = digesters.map((d) => d.getWriter());
  let size = 0;
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    await Promise.all(writers.map((w) => w.write(value)));
  }
  await Promise.all(writers.map((w) => w.close()));
  const [sha1, sha256, sha512] = await Promise.all(digesters.map(async (d) => toHex(new Uint8Array(await d.digest))));
  return { size, sha1: sha1!, sha256: sha256!, sha512: sha512! };
}

/** Hex SHA-256 of a stream, natively: the file hasher for core/package.ts. */
export async function sha256Stream(stream: ReadableStream<Uint8Array>): Promise<string> {
  const digester = new crypto.DigestStream("SHA-256");
  await stream.pipeTo(digester);
  return toHex(new Uint8Array(await digester.digest));
}
