/**
 * @module
 * The native API under `/-/countersign/v1`:
 *
 *     PUT  /packages/<name>/<version>[?tag=latest]   publish (upload.ts format) → 201 + bundle
 *     GET  /packages/<name>                          versions, dist-tags and the signed metadata (metadata.ts)
 *     GET  /packages/<name>/<version>                provenance bundle (publisher envelope + countersignature,
 *                                                    reviews); abbreviated packuments link here by digest
 *     GET  /packages/<name>/<version>/artifact       the bytes
 *     POST /packages/<name>/<version>/reviews        attach a reviewer-signed review (review.ts)
 *     GET  /packages/<name>/<version>/reviews        the reviews attached so far
 *     POST /bundles  { "packages": ["name@version", …] }   many bundles, and each package's signed metadata
 *                                                    and where its serial is in the log, in one request (verify)
 *
 * `<name>` is `@scope%2fname` or `@scope/name` (names.ts). Staged versions (routes/staging.ts) are
 * in none of these until approved; where a namespace requires approval, the PUT is refused
 * (`approval_required`, publish.ts).
 */

import { Hono } from "hono";
import * as z from "zod/mini";
import { checkPackageName, checkVersion, sha256, sriFromHex, toHex, utf8, verifyReview, type Envelope } from "../../core/index.js";
import { signAndRecord, withProofs, type MetadataLogRef } from "../metadata-log.js";
import { matchesIfNoneMatch, serveArtifact } from "../artifacts.js";
import { bearerToken, readToken, requireToken } from "../auth.js";
import { registryOrigin, type AppContext, type AppEnv } from "../context.js";
import { ApiError, badRequest, notFound } from "../errors.js";
import { readJson } from "../json.js";
import { namePaths, nameParam } from "../names.js";
import { currentSigner } from "../signing-key.js";
import { publishVersion, type PublishDeps, type PublishRequest } from "../publish.js";
import type { StoredBundle, VersionRow } from "../storage/meta.js";

export const API_PREFIX = "/-/countersign/v1";
export const MAX_BUNDLES_PER_REQUEST = 2000;

export const packageRoutes = new Hono<AppEnv>();

/** Reads are public unless READ_ACCESS=token. */
/** What publishing (and staging, and approving) needs of the request's dependencies. */
export async function publishDeps(c: AppContext): Promise<PublishDeps> {
  const deps = c.var.deps;
  const freshSigner = () => currentSigner(c.env, () => deps.meta.rotations(), { fresh: true });
  return { meta: deps.meta, staging: deps.staging, blobs: deps.blobs, config: deps.config, now: deps.now, signer: await deps.signer(), freshSigner, log: deps.log(), npmSigner: deps.npmSigner };
}

/** A native upload (`PUT …/<name>/<version>[?tag=]`, publish or stage) as the publish code takes it. */
export function uploadRequest(c: AppContext): PublishRequest {
  const length = c.req.header("content-length");
  return {
    name: nameParam(c),
    version: c.req.param("version")!,
    tag: c.req.query("tag") ?? "latest",
    token: bearerToken(c),
    body: c.req.raw.body,
    contentLength: length !== undefined && /^\d+$/.test(length) ? Number(length) : null,
    origin: registryOrigin(c),
  };
}

export async function requireRead(c: AppContext): Promise<void> {
  if (c.var.deps.config.readAccess === "token") await requireToken(c.var.deps.meta, readToken(c));
}

async function findVersion(c: AppContext): Promise<VersionRow> {
  const name = nameParam(c);
  const version = c.req.param("version")!;
  await requireRead(c);
  const row = await c.var.deps.meta.getVersion(name, version);
  if (!row) throw notFound(`${name}@${version.slice(0, 64)} does not exist`);
  return row;
}

packageRoutes.on("PUT", namePaths("/packages", "/:version"), async (c) => {
  const { bundle, row, logged } = await publishVersion(await publishDeps(c), uploadRequest(c));
  // The log index is the sequence number; `logPending` says the checkpoint covering it is not out yet.
  const log = logged ? { logIndex: row.sequence, tlogProof: logged.tlogProof } : { logIndex: row.sequence, logPending: true };
  return c.json({ name: row.name, version: row.version, sequence: row.sequence, integrity: sriFromHex("sha512", row.sha512), ...log, bundle }, 201);
});

packageRoutes.on("GET", namePaths("/packages", "/:version/artifact"), async (c) => {
  const row = await findVersion(c);
  return serveArtifact(c, row, `${row.name.replace(/^@[^/]+\//, "")}-${row.version}`);
});

// The bundle. Abbreviated packuments link here with the SHA-256 of exactly these bytes, which is
// also the ETag. Not immutable: reviews can be attached later (the signed parts never change).
packageRoutes.on("GET", namePaths("/packages", "/:version"), async (c) => {
  const row = await findVersion(c);
  const etag = `"sha256-${toHex(await sha256(utf8(row.bundle)))}"`;
  const headers = { "Content-Type": "application/json", ETag: etag, "Cache-Control": c.var.deps.config.readAccess === "public" ? "public, max-age=60" : "private, max-age=60" };
  if (matchesIfNoneMatch(c.req.header("if-none-match"), etag)) return c.body(null, 304, headers);
  return c.body(row.bundle, 200, headers);
});

packageRoutes.on("POST", namePaths("/packages", "/:version/reviews"), async (c) => {
  const row = await findVersion(c);
  // Reviews authenticate themselves; a token (any scope) keeps anonymous spam out.
  await requireToken(c.var.deps.meta, bearerToken(c));
  const envelope = await readJson(c, z.unknown());
  const review = await verifyReview(envelope, { name: row.name, version: row.version, digests: { sha256: row.sha256, sha512: row.sha512 } });
  if (!review.ok) throw badRequest("invalid_review", review.error);
  const outcome = await c.var.deps.meta.addReview({ name: row.name, version: row.version, keyid: review.value.keyid, verdict: review.value.verdict, envelope: JSON.stringify(envelope), createdAt: c.var.deps.now().toISOString() });
  if (outcome === "exists") throw new ApiError(409, "review_exists", `${review.value.keyid} has already reviewed ${row.name}@${row.version}; reviews are immutable`);
  return c.json({ name: row.name, version: row.version, reviewer: review.value.keyid, verdict: review.value.verdict }, 201);
});

packageRoutes.on("GET", namePaths("/packages", "/:version/reviews"), async (c) => {
  const row = await findVersion(c);
  return c.body(`{"reviews":[${(row.reviews ?? []).join(",")}]}`, 200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
});

packageRoutes.on("GET", namePaths("/packages"), async (c) => {
  const name = nameParam(c);
  await requireRead(c);
  const [{ versions, tags }, { metadata, logged }] = await Promise.all([c.var.deps.meta.listVersions(name), metadataOf(c, [name])]);
  if (versions.length === 0) throw notFound(`${name} does not exist`);
  return c.json({
    name,
    namespace: versions[0]!.namespace,
    distTags: tags,
    metadata: metadata.get(name) ?? null,
    metadataLog: logged.get(name) ?? null,
    versions: versions.map((v) => ({
      version: v.version,
      sequence: v.sequence,
      publishedAt: v.publishedAt,
      size: v.size,
      integrity: sriFromHex("sha512", v.sha512),
      sha256: v.sha256,
      publisherKeyid: v.publisherKeyid,
    })),
  });
});

const BundlesBody = z.strictObject({ packages: z.array(z.string()).check(z.maxLength(MAX_BUNDLES_PER_REQUEST)) });

packageRoutes.post("/bundles", async (c) => {
  await requireRead(c);
  const { packages } = await readJson(c, BundlesBody, 256 * 1024);
  const wanted = packages.map((spec) => {
    const at = spec.lastIndexOf("@");
    return { spec, name: spec.slice(0, at), version: spec.slice(at + 1) };
  });
  const valid = wanted.filter((w) => w.name && checkPackageName(w.name).ok && checkVersion(w.version).ok);
  const found = valid.length ? await c.var.deps.meta.bundles(valid) : new Map<string, StoredBundle>();
  const [proofs, { metadata, logged }, rotations] = await Promise.all([
    latestProofs(c, found),
    metadataOf(c, [...new Set(valid.filter((w) => found.has(w.spec)).map((w) => w.name))]),
    // The registry's key rotations (PROTOCOL §21), so a consumer pinned to an earlier key can follow them.
    found.size ? c.var.deps.meta.rotations() : [],
  ]);
  // Stored bundles are JSON text: splice them in rather than parse and re-serialise thousands.
  const entries = wanted.map((w) => {
    const stored = found.get(w.spec);
    if (!stored) return `${JSON.stringify(w.spec)}:null`;
    const proof = proofs.get(stored.sequence) ?? stored.tlogProof;
    return `${JSON.stringify(w.spec)}:${proof === null ? stored.json : `${stored.json.slice(0, -1)},"tlogProof":${JSON.stringify(proof)}}`}`;
  });
  const signed = [...metadata].map(([name, envelope]) => `${JSON.stringify(name)}:${JSON.stringify(envelope)}`);
  const inLog = [...logged].map(([name, ref]) => `${JSON.stringify(name)}:${JSON.stringify(ref)}`);
  const rotated = rotations.length ? `,"rotations":[${rotations.map((r) => r.envelope).join(",")}]` : "";
  return c.body(`{"bundles":{${entries.join(",")}},"metadata":{${signed.join(",")}},"metadataLog":{${inLog.join(",")}}${rotated}}`, 200, { "Content-Type": "application/json", "Cache-Control": "no-store" });
});

/**
 * The signed metadata of each package (metadata.ts), in one more round trip whatever their
 * number, and where each serial is in the log (metadata-log.ts: recorded now if it was not, in
 * one more); none without REGISTRY_ORIGIN.
 */
async function metadataOf(c: AppContext, names: string[]): Promise<{ metadata: Map<string, Envelope>; logged: Map<string, MetadataLogRef> }> {
  const { meta, signer, now, config } = c.var.deps;
  // Without REGISTRY_ORIGIN nothing is signed (config.ts), and reads go on without metadata.
  const origin = config.origin;
  if (names.length === 0 || origin === undefined) return { metadata: new Map(), logged: new Map() };
  const { signed, indexes } = await signAndRecord({ meta, signer, origin, now: now() }, names);
  return { metadata: signed, logged: await withProofs(c.var.deps.log(), indexes) };
}

/**
 * Every found bundle's tlog-proof against the log's latest checkpoint, by sequence number: one
 * checkpoint for the whole answer instead of one per publish round (PROTOCOL §11, batched
 * provenance). If the sequencer does not answer, the stored proofs are served (logged).
 */
async function latestProofs(c: AppContext, found: Map<string, StoredBundle>): Promise<Map<number, string>> {
  const indexes = [...new Set([...found.values()].map((b) => b.sequence))];
  const out = new Map<number, string>();
  if (indexes.length === 0) return out;
  try {
    const { proofs } = await c.var.deps.log().proofs(indexes);
    indexes.forEach((index, i) => {
      const proof = proofs[i];
      if (typeof proof === "string") out.set(index, proof);
    });
  } catch (err) {
    console.error(`log: no current proofs for a batch of ${indexes.length}, serving the stored ones: ${err instanceof Error ? err.message : String(err)}`);
  }
  return out;
}
