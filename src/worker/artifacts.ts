/**
 * @module
 * Serving artifact bytes: strong ETag (the sha512), conditional requests, immutable caching,
 * and in front of R2 the isolate's memory (small artifacts) and the Cache API, both keyed by
 * digest, so the native and npm download routes share one cached copy per content.
 */

import { edgeCache, waitUntil, type AppContext } from "./context.js";
import { ApiError } from "./errors.js";
import { artifactBytes, artifactFacts, factsKey, MEMORY_ARTIFACT_MAX_BYTES, type ArtifactFacts } from "./hot-cache.js";
import type { VersionRow } from "./storage/meta.js";

/**
 * What `name@version` downloads, from memory when this isolate has served it before (a version,
 * once it exists, never changes), else from storage. Null if there is no such version; absence
 * is not remembered, since the version may be published a moment later.
 */
export async function findArtifact(c: AppContext, name: string, version: string): Promise<ArtifactFacts | null> {
  const remember = c.var.deps.config.hotCache;
  const key = factsKey(name, version);
  const known = remember ? artifactFacts.get(key) : undefined;
  if (known) return known;
  const row = await c.var.deps.meta.getVersion(name, version);
  if (!row) return null;
  const facts = { name: row.name, version: row.version, sha512: row.sha512, size: row.size, npm: row.manifest !== null };
  if (remember) artifactFacts.set(key, facts);
  return facts;
}

const IMMUTABLE = "max-age=31536000, immutable";

export function cacheControl(c: AppContext): string {
  return c.var.deps.config.readAccess === "public" ? `public, ${IMMUTABLE}` : `private, ${IMMUTABLE}`;
}

export const etagOf = (row: Pick<VersionRow, "sha512">) => `"sha512-${row.sha512}"`;

/** RFC 9110 §13.1.2: weak comparison for If-None-Match; `*` matches any. */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === "*") return true;
  return header.split(",").some((candidate) => candidate.trim().replace(/^W\//, "") === etag);
}

// Never served to anyone: only a cache key, the same for every route that serves these bytes.
const cacheKey = (sha512: string) => new Request(`https://cache.countersign.invalid/artifacts/sha512/${sha512}`);

export async function serveArtifact(c: AppContext, row: Pick<ArtifactFacts, "name" | "version" | "sha512" | "size">, filename: string): Promise<Response> {
  const etag = etagOf(row);
  const headers = new Headers({
    ETag: etag,
    "Cache-Control": cacheControl(c),
    "Content-Type": "application/octet-stream",
    "Content-Disposition": `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, "_")}"`,
    "X-Content-Type-Options": "nosniff",
  });
  if (matchesIfNoneMatch(c.req.header("if-none-match"), etag)) return new Response(null, { status: 304, headers });

  headers.set("Content-Length", String(row.size));
  const remember = c.var.deps.config.hotCache;
  const inMemory = remember ? artifactBytes.get(row.sha512) : undefined;
  if (inMemory) return new Response(inMemory, { status: 200, headers });

  const small = remember && row.size <= MEMORY_ARTIFACT_MAX_BYTES;
  const cache = edgeCache();
  const key = cacheKey(row.sha512);
  const hit = await cache?.match(key);
  if (hit?.body) {
    if (!small) return new Response(hit.body, { status: 200, headers });
    // Small: into memory from the edge copy too, or an isolate that starts with a warm edge
    // cache would ask it for every download and never use its memory.
    const bytes = new Uint8Array(await hit.arrayBuffer());
    if (bytes.byteLength === row.size) {
      artifactBytes.set(row.sha512, bytes);
      return new Response(bytes, { status: 200, headers });
    }
  }
  const blob = await c.var.deps.blobs.get(row.sha512);
  if (!blob) throw new ApiError(503, "artifact_unavailable", `the bytes of ${row.name}@${row.version} are not in storage`);
  headers.set("Content-Length", String(blob.size));
  if (remember && blob.size <= MEMORY_ARTIFACT_MAX_BYTES) {
    // Small: read whole, keep in memory (the store checked its sha512 when it was written).
    const bytes = new Uint8Array(await new Response(blob.body).arrayBuffer());
    if (bytes.byteLength !== blob.size) throw new ApiError(503, "artifact_unavailable", `the bytes of ${row.name}@${row.version} are incomplete in storage`);
    artifactBytes.set(row.sha512, bytes);
    if (cache) waitUntil(c, cache.put(key, new Response(bytes.slice(), { headers: { "Content-Length": String(blob.size), "Cache-Control": `public, ${IMMUTABLE}` } })));
    return new Response(bytes, { status: 200, headers });
  }
  if (!cache) return new Response(blob.body, { status: 200, headers });
  const [toClient, toCache] = blob.body.tee();
  waitUntil(c, cache.put(key, new Response(toCache, { headers: { "Content-Length": String(blob.size), "Cache-Control": `public, ${IMMUTABLE}` } })));
  return new Response(toClient, { status: 200, headers });
}
