/**
 * @module
 * Reading the publish upload (core/upload.ts: a tar of the publisher envelope, then the bytes).
 * The envelope comes first so the registry can check the signature and the enrolment before it
 * accepts a single artifact byte, and then stream the bytes straight into R2 under the digest
 * the publisher signed. Anything else (other members, links, trailing entries, a truncated
 * archive) is a 400 `malformed_upload`.
 */

import { createTarDecoder, type ParsedTarEntry } from "modern-tar";
import { ARTIFACT_MEMBER, MAX_STATEMENT_BYTES, STATEMENT_MEMBER } from "../core/index.js";
import { DRAIN_BYTES } from "./drain.js";
import { badRequest } from "./errors.js";

/** Tar framing around the two members: headers, padding and the end-of-archive blocks. */
export const UPLOAD_OVERHEAD_BYTES = 16 * 1024;

const malformed = (message: string) => badRequest("malformed_upload", `upload: ${message}`);

export interface Upload {
  /** Reads the first member, the publisher envelope. */
  statement(): Promise<Uint8Array>;
  /** The second member's header and body; the body must then be read to its end. */
  artifact(): Promise<{ size: number; body: ReadableStream<Uint8Array> }>;
  /** Checks that nothing follows the artifact. */
  end(): Promise<void>;
  /**
   * Stops reading: drains what is left of a small body (so the client finishes sending and reads
   * our refusal instead of a connection reset), and cancels a large one.
   */
  cancel(): Promise<void>;
}

export function openUpload(body: ReadableStream<Uint8Array>): Upload {
  const entries = body.pipeThrough(createTarDecoder({ strict: true })).getReader();

  async function next(expected: string): Promise<ParsedTarEntry> {
    let read: ReadableStreamReadResult<ParsedTarEntry>;
    try {
      read = await entries.read();
    } catch {
      throw malformed("not a valid tar archive, or truncated");
    }
    if (read.done) throw malformed(`missing member "${expected}"`);
    const { header } = read.value;
    if (header.name !== expected) throw malformed(`expected member "${expected}", found "${header.name.slice(0, 100)}"`);
    if ((header.type ?? "file") !== "file") throw malformed(`member "${expected}" must be a regular file`);
    return read.value;
  }

  return {
    async statement() {
      const entry = await next(STATEMENT_MEMBER);
      if (entry.header.size > MAX_STATEMENT_BYTES) throw malformed(`${STATEMENT_MEMBER} is larger than ${MAX_STATEMENT_BYTES} bytes`);
      try {
        return new Uint8Array(await new Response(entry.body).arrayBuffer());
      } catch {
        throw malformed("truncated inside the publisher envelope");
      }
    },
    async artifact() {
      const entry = await next(ARTIFACT_MEMBER);
      return { size: entry.header.size, body: entry.body };
    },
    async end() {
      let read: ReadableStreamReadResult<ParsedTarEntry>;
      try {
        read = await entries.read();
      } catch {
        throw malformed("not a valid tar archive after the artifact, or truncated");
      }
      if (!read.done) {
        await read.value.body.cancel();
        throw malformed("unexpected member after the artifact");
      }
    },
    async cancel() {
      let left = DRAIN_BYTES;
      try {
        for (let read = await entries.read(); !read.done; read = await entries.read()) {
          const body = read.value.body.getReader();
          for (let chunk = await body.read(); !chunk.done; chunk = await body.read()) {
            left -= chunk.value.byteLength;
            if (left < 0) throw new RangeError("too much left to drain");
          }
        }
      } catch {
        await entries.cancel().catch(() => undefined);
      }
    },
  };
}
