/**
 * @module
 * Packuments through the Workers Cache API (`caches.default`), keyed by the package's revision
 * (docs/PROTOCOL.md §11, "Packument caching").
 *
 * A revision is a random tag that D1 triggers replace in the same transaction as every write to
 * the package's versions, dist-tags or reviews (migrations/0005). Each request reads it (one
 * small D1 query) and looks up the packument cached under it; a write therefore makes the old
 * entry unreachable in every data centre at once, with no purge (`cache.delete` would reach only
 * the local one). A miss reads everything in one more round trip, which also returns the
 * revision it read at, and caches the document under that revision. So a request costs one D1
 * round trip on a hit and two on a miss, whatever the package.
 *
 * The caller checks read access before calling here: a cached packument is only ever served to
 * a request that may read it (the entry itself is shared by every reader, as all of them may
 * read every package). Cache keys are never served: they live under a reserved host, and include
 * the document's format (PACKUMENT_FORMAT), the origin its URLs name and the keyid of the npm
 * signing key its `dist.signatures` are by (a new key never meets documents signed by the old one).
 *
 * A build first signs the npm versions without a signature by the current key (npm/signatures.ts,
 * the lazy backfill) and stores those signatures after answering; that write moves the revision,
 * so the document built then is not cached at the edge, and the next build signs nothing.
 */

import { sha256, toHex, utf8, type Envelope } from "../../core/index.js";
import { metadataSourceOf, metadataWindow, signedMetadata, signedTags } from "../metadata.js";
import { recordServed, withProofs, type MetadataLogRef } from "../metadata-log.js";
import { edgeCache, registryOrigin, waitUntil, type AppContext } from "../context.js";
import { PACKUMENT_MEMORY_MS, recentPackuments } from "../hot-cache.js";
import { buildPackument, completeBundleDigests, PACKUMENT_FORMAT } from "./packument.js";
import { completeNpmSignatures } from "./signatures.js";

/** How long an entry may stay: nothing depends on expiry (a write changes the key), this only bounds how long an unused entry is kept. */
const CACHE_TTL_SECONDS = 86_400;

export interface ServedPackument {
  body: ReadableStream<Uint8Array> | string;
  /** Strong ETag: a SHA-256 of the document, as served. */
  etag: string;
  /** Whether it came from the edge cache (for tests and logs; never a header). */
  cached: boolean;
}

/** `npmKeyid`: the npm signing key's keyid, null when the registry has none. */
/** `window`: the metadata window (metadata.ts) the document's signed metadata was issued in. */
export function packumentCacheKey(name: string, revision: string, abbreviated: boolean, origin: string, npmKeyid: string | null = null, window = 0): Request {
  const signed = encodeURIComponent(npmKeyid ?? "unsigned");
  return new Request(`https://cache.countersign.invalid/packuments/v${PACKUMENT_FORMAT}/${abbreviated ? "abbreviated" : "full"}/${encodeURIComponent(origin)}/${signed}/${window}/${encodeURIComponent(name)}/${revision}`);
}


/**
 * The packument of `name` (null: no npm version to serve): from this isolate's memory if it
 * served it in the last PACKUMENT_MEMORY_MS, or later if the package's revision has not changed
 * since (one small D1 query); else from the edge cache when it can; else built.
 */
export async function servePackument(c: AppContext, name: string, abbreviated: boolean): Promise<ServedPackument | null> {
  const { meta, config } = c.var.deps;
  const origin = registryOrigin(c);
  // First: a misconfigured NPM_SIGNING_KEY is a 500 whatever is cached.
  const npm = await c.var.deps.npmSigner();
  const npmKeyid = npm?.keyid ?? null;
  // The signed metadata in a full document is re-issued every window: a new window is a new
  // document. (Installers' abbreviated documents do not carry it: they stay small and stable.)
  const window = abbreviated ? 0 : metadataWindow(c.var.deps.now()).getTime();
  const memoryKey = `${abbreviated ? "abbreviated" : "full"} ${origin} ${npmKeyid ?? "unsigned"} ${window} ${name}`;
  const recent = config.hotCache ? recentPackuments.get(memoryKey) : undefined;
  if (recent && Date.now() - recent.at < PACKUMENT_MEMORY_MS) return { body: recent.text, etag: recent.etag, cached: true };
  const remember = (text: string, etag: string, revision: string | null) => {
    if (config.hotCache && revision !== null) recentPackuments.set(memoryKey, { text, etag, revision, at: Date.now() });
  };

  const cache = edgeCache();
  if (cache || recent) {
    const revision = await meta.packumentRevision(name);
    if (recent && revision === recent.revision) {
      remember(recent.text, recent.etag, revision); // still current: good for another while
      return { body: recent.text, etag: recent.etag, cached: true };
    }
    const hit = revision === null || !cache ? undefined : await cache.match(packumentCacheKey(name, revision, abbreviated, origin, npmKeyid, window));
    const etag = hit?.headers.get("ETag");
    if (hit?.body && etag) {
      const text = await hit.text();
      remember(text, etag, revision);
      return { body: text, etag, cached: true };
    }
    await hit?.body?.cancel();
  }

  const source = await meta.packumentSource(name, abbreviated);
  const digests = abbreviated ? await completeBundleDigests(source.versions) : [];
  if (digests.length) waitUntil(c, meta.rememberBundleDigests(digests));
  const signatures = await completeNpmSignatures(source.versions, npm);
  if (signatures.length) waitUntil(c, meta.rememberNpmSignatures(signatures));
  // dist-tags and times are the signed statement's: the same rows, read in the same batch.
  const signedSource = metadataSourceOf(source);
  // (None without REGISTRY_ORIGIN: nothing is signed then, config.ts; reads go on.)
  const metadata = abbreviated || config.origin === undefined ? undefined : await signedMetadata(await c.var.deps.signer(), config.origin, name, signedSource, c.var.deps.now());
  const packument = buildPackument(source.versions, signedTags(signedSource), origin, abbreviated, npmKeyid, { ...source, ...(metadata ? { metadata } : {}) });
  if (!packument) return null;
  // Only a package that is served has its serial recorded.
  const metadataLog = metadata && (await loggedMetadata(c, name, metadata, signedSource.recorded));
  if (metadataLog) (packument.countersign as { metadataLog?: MetadataLogRef }).metadataLog = metadataLog;
  const text = JSON.stringify(packument);
  const etag = `"${toHex(await sha256(utf8(text))).slice(0, 40)}"`;
  if (cache && source.revision !== null && signatures.length === 0) {
    const entry = new Response(text, { headers: { ETag: etag, "Content-Type": "application/json", "Cache-Control": `public, max-age=${CACHE_TTL_SECONDS}` } });
    waitUntil(c, cache.put(packumentCacheKey(name, source.revision, abbreviated, origin, npmKeyid, window), entry));
  }
  remember(text, etag, source.revision);
  return { body: text, etag, cached: false };
}

/**
 * Where a full document's statement is in the log, with its tlog-proof (metadata-log.ts), so a
 * plain mirror's copy can be checked offline like its bundles: the index its read found, or (the
 * first read of a serial) recorded now. The record replaces this document's revision, so what is
 * cached carries the index.
 */
async function loggedMetadata(c: AppContext, name: string, envelope: Envelope, recorded: number | undefined): Promise<MetadataLogRef | undefined> {
  const indexes = recorded ? new Map([[name, recorded]]) : await recordServed(c.var.deps.meta, new Map([[name, { envelope }]]));
  return (await withProofs(c.var.deps.log(), indexes)).get(name);
}
