/**
 * @module
 * The native API under `/-/countersign/v1/packages/<name>`:
 *
 *     PUT  /<name>/<version>[?tag=latest]   publish (upload.ts format) → 201 + provenance bundle
 *     GET  /<name>                          versions and dist-tags
 *     GET  /<name>/<version>                provenance bundle (publisher envelope + countersignature)
 *     GET  /<name>/<version>/artifact       the bytes
 *
 * `<name>` is `@scope%2fname` or `@scope/name` (names.ts).
 */

import { Hono } from "hono";
import { sriFromHex } from "../../core/index.js";
import { serveArtifact, cacheControl } from "../artifacts.js";
import { bearerToken, requireToken } from "../auth.js";
import { registryOrigin, type AppContext, type AppEnv } from "../context.js";
import { notFound } from "../errors.js";
import { namePaths, nameParam } from "../names.js";
import { publishVersion } from "../publish.js";
import type { VersionRow } from "../storage/meta.js";

export const PACKAGES_PREFIX = "/-/countersign/v1/packages";

export const packageRoutes = new Hono<AppEnv>();

/** Reads are public unless READ_ACCESS=token. */
export async function requireRead(c: AppContext): Promise<void> {
  if (c.var.deps.config.readAccess === "token") await requireToken(c.var.deps.meta, bearerToken(c));
}

async function findVersion(c: AppContext): Promise<VersionRow> {
  const name = nameParam(c);
  const version = c.req.param("version")!;
  await requireRead(c);
  const row = await c.var.deps.meta.getVersion(name, version);
  if (!row) throw notFound(`${name}@${version.slice(0, 64)} does not exist`);
  return row;
}

packageRoutes.on("PUT", namePaths("", "/:version"), async (c) => {
  const deps = c.var.deps;
  const length = c.req.header("content-length");
  const { bundle, row } = await publishVersion(
    { meta: deps.meta, blobs: deps.blobs, config: deps.config, now: deps.now, signer: await deps.signer() },
    {
      name: nameParam(c),
      version: c.req.param("version")!,
      tag: c.req.query("tag") ?? "latest",
      token: bearerToken(c),
      body: c.req.raw.body,
      contentLength: length !== undefined && /^\d+$/.test(length) ? Number(length) : null,
      origin: registryOrigin(c),
    },
  );
  return c.json({ name: row.name, version: row.version, sequence: row.sequence, integrity: sriFromHex("sha512", row.sha512), bundle }, 201);
});

packageRoutes.on("GET", namePaths("", "/:version/artifact"), async (c) => {
  const row = await findVersion(c);
  return serveArtifact(c, row, `${row.name.replace(/^@[^/]+\//, "")}-${row.version}`);
});

packageRoutes.on("GET", namePaths("", "/:version"), async (c) => {
  const row = await findVersion(c);
  return c.body(row.bundle, 200, { "Content-Type": "application/json", "Cache-Control": cacheControl(c) });
});

packageRoutes.on("GET", namePaths(""), async (c) => {
  const name = nameParam(c);
  await requireRead(c);
  const { versions, tags } = await c.var.deps.meta.listVersions(name);
  if (versions.length === 0) throw notFound(`${name} does not exist`);
  return c.json({
    name,
    namespace: versions[0]!.namespace,
    distTags: tags,
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
