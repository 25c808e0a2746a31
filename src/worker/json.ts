/** @module Reading JSON request bodies: size-capped, parsed, schema-checked, with precise 4xx errors. */

import type { Context } from "hono";
import type * as z from "zod/mini";
import { parseWith } from "../core/schema.js";
import { drainReader } from "./drain.js";
import { ApiError, badRequest } from "./errors.js";

export const MAX_JSON_BYTES = 64 * 1024;

export async function readJson<T>(c: Context, schema: z.ZodMiniType<T>, maxBytes = MAX_JSON_BYTES): Promise<T> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/json\b/i.test(type)) throw new ApiError(415, "unsupported_media_type", "send Content-Type: application/json");
  const length = Number(c.req.header("content-length") ?? "0");
  if (length > maxBytes) throw new ApiError(413, "too_large", `JSON body exceeds ${maxBytes} bytes`, { limit: maxBytes });
  const bytes = await readBounded(c.req.raw.body, maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes));
  } catch {
    throw badRequest("malformed_json", "request body is not valid JSON");
  }
  const result = parseWith(schema, value, "body");
  if (!result.ok) throw badRequest("invalid_body", result.error);
  return result.value;
}

/**
 * Reads a whole body, refusing (413) as soon as it passes `maxBytes`: never buffers more (the
 * rest is read and discarded up to a bound, so the client sees the 413 rather than a reset).
 */
export async function readBounded(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<Uint8Array> {
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await drainReader(reader);
      throw new ApiError(413, "too_large", `request body exceeds ${maxBytes} bytes`, { limit: maxBytes });
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
