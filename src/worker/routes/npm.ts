/**
 * @module
 * The npm front door: what npm, pnpm and yarn need to install from this registry with nothing
 * but an `.npmrc` line (docs/PROTOCOL.md §11). Names are never proxied to another registry:
 * an unknown package is a 404.
 *
 * Publishing stays publisher-signed: a plain `npm publish` is checked (so a malformed body gets
 * a precise 400 and nothing is stored) and then refused with the command to use instead (where
 * the namespace requires a second key's approval, `approval_required`: stage and approve).
 */

import { Hono } from "hono";
import semverValid from "semver/functions/valid.js";
import { isPlainObject, namespaceOf } from "../../core/index.js";
import { findArtifact, matchesIfNoneMatch, serveArtifact } from "../artifacts.js";
import { bearerToken, checkPublishScope, requireToken } from "../auth.js";
import { registryOrigin, waitUntil, type AppContext, type AppEnv } from "../context.js";
import { ApiError, badRequest, handleError, notFound } from "../errors.js";
import { readBounded } from "../json.js";
import { recordChange } from "../metadata-log.js";
import { namePaths, nameParam } from "../names.js";
import { ABBREVIATED_TYPE, buildPackument, keyPerson, tarballPath } from "../npm/packument.js";
import { servePackument } from "../npm/packument-cache.js";
import { checkNpmPublishBody } from "../npm/publish-body.js";
import { completeNpmSignatures } from "../npm/signatures.js";
import { unsupported } from "../npm/unsupported.js";
import { packageLinks } from "../npm/links.js";
import { packagePath } from "../../web/pages/paths.js";
import type { TokenRow } from "../storage/meta.js";
import { approvalRequired, checkTag } from "../publish.js";
import { requireRead } from "./packages.js";

export const npmRoutes = new Hono<AppEnv>();
npmRoutes.onError((err, c) => handleError(err, c, "npm"));

npmRoutes.get("/-/ping", (c) => c.json({}));

/**
 * The keys `npm audit signatures` verifies `dist.signatures` with, in npm's format: the
 * NPM_SIGNING_KEY's public key, or an empty list when the registry has none (npm then audits
 * nothing here, exactly as for a 404). Public, whatever READ_ACCESS: it is a public key, and the
 * signed identity document lists it too (`npmKeys`), which is how a consumer ties it to the
 * registry's pinned Ed25519 fingerprint.
 */
npmRoutes.get("/-/npm/v1/keys", async (c) => {
  const signer = await c.var.deps.npmSigner();
  return c.json({ keys: signer ? [signer.registryKey] : [] }, 200, { "Cache-Control": "public, max-age=60" });
});

/** What `npm whoami` prints for a token: its label; for an unlabelled one, what it is. */
export function tokenUsername(token: TokenRow): string {
  if (token.label) return token.label;
  return token.scope === "publish" ? `publish token for ${token.namespaces.join(", ")} (${token.id})` : `read token (${token.id})`;
}

npmRoutes.get("/-/whoami", async (c) => {
  const token = await requireToken(c.var.deps.meta, bearerToken(c));
  return c.json({ username: tokenUsername(token) });
});

/** Bounds of `/-/v1/search`'s parameters; anything outside them is a 400, never clamped. */
export const SEARCH_LIMITS = { text: 256, size: 250, from: 100_000 } as const;

/** An optional decimal integer query parameter in [min, max] (no sign, fraction, exponent). */
function integerParam(c: AppContext, name: string, fallback: number, min: number, max: number): number {
  const raw = c.req.query(name);
  if (raw === undefined) return fallback;
  const value = /^[0-9]{1,15}$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) throw badRequest("invalid_query", `${name} must be an integer from ${min} to ${max}`);
  return value;
}

npmRoutes.get("/-/v1/search", async (c) => {
  await requireRead(c);
  const text = c.req.query("text") ?? "";
  if (text.length > SEARCH_LIMITS.text) throw badRequest("invalid_query", `text must be at most ${SEARCH_LIMITS.text} characters`);
  const size = integerParam(c, "size", 20, 1, SEARCH_LIMITS.size);
  const from = integerParam(c, "from", 0, 0, SEARCH_LIMITS.from);
  const { total, results } = await c.var.deps.meta.search(text, size, from);
  const origin = registryOrigin(c);
  return c.json({
    objects: results.map((r) => {
      const manifest = JSON.parse(r.manifest) as Record<string, unknown>;
      const person = keyPerson(r.publisherKeyid, r.publisherLabel);
      const publisher = { username: person.name, email: person.email };
      return {
        package: {
          name: r.name,
          scope: r.name.startsWith("@") ? r.name.slice(1, r.name.indexOf("/")) : "unscoped",
          version: r.version,
          ...(typeof manifest.description === "string" ? { description: manifest.description } : {}),
          ...(Array.isArray(manifest.keywords) ? { keywords: manifest.keywords } : {}),
          date: r.publishedAt,
          // This registry's own package page (src/web), never npmjs.com.
          links: { npm: `${origin}${packagePath(r.name)}`, ...packageLinks(manifest) },
          // Publishers are keys here, not accounts: the key's label, and its fingerprint.
          maintainers: [publisher],
          publisher,
        },
        score: { final: 1, detail: { quality: 1, popularity: 1, maintenance: 1 } },
        searchScore: 1,
      };
    }),
    total,
    time: new Date().toUTCString(),
  });
});

// dist-tags: GET, PUT (body: a JSON string, the version), DELETE.
npmRoutes.on("GET", namePaths("/-/package", "/dist-tags"), async (c) => {
  const name = nameParam(c);
  await requireRead(c);
  const { versions, tags } = await c.var.deps.meta.listVersions(name);
  if (versions.length === 0) throw notFound(`${name} does not exist`);
  return c.json(tags);
});

/** A publish token for the name's namespace (name already validated by nameParam). */
async function requirePublisher(c: AppContext, name: string): Promise<void> {
  checkPublishScope(await requireToken(c.var.deps.meta, bearerToken(c)), namespaceOf(name));
}

/** A package's new serial into the log (metadata-log.ts), and a round of the sequencer after the answer. */
async function recordMetadataChange(c: AppContext, name: string): Promise<void> {
  const { deps } = c.var;
  await recordChange({ meta: deps.meta, signer: await deps.signer(), origin: deps.config.origin, now: deps.now() }, [name]);
  waitUntil(c, deps.log().sync());
}

npmRoutes.on("PUT", namePaths("/-/package", "/dist-tags/:tag"), async (c) => {
  const name = nameParam(c);
  const tag = c.req.param("tag")!;
  checkTag(tag);
  await requirePublisher(c, name);
  let version: unknown;
  try {
    version = JSON.parse(new TextDecoder().decode(await readBounded(c.req.raw.body, 1024)));
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw badRequest("malformed_json", 'the body must be a JSON string naming a version, e.g. "1.2.3"');
  }
  if (typeof version !== "string" || semverValid(version) !== version) throw badRequest("invalid_version", 'the body must be a JSON string naming a version, e.g. "1.2.3"');
  if ((await c.var.deps.meta.setTag(name, tag, version)) === "no_version") throw notFound(`${name}@${version} does not exist`);
  await recordMetadataChange(c, name);
  return c.json({ ok: true, [tag]: version }, 201);
});

npmRoutes.on("DELETE", namePaths("/-/package", "/dist-tags/:tag"), async (c) => {
  const name = nameParam(c);
  const tag = c.req.param("tag")!;
  await requirePublisher(c, name);
  if (tag === "latest") throw badRequest("invalid_tag", "the latest tag cannot be removed; point it at another version instead");
  if ((await c.var.deps.meta.deleteTag(name, tag)) === "not_found") throw notFound(`${name} has no dist-tag "${tag.slice(0, 64)}"`);
  await recordMetadataChange(c, name);
  return c.json({ ok: true });
});

// Tarballs: /<name>/-/<basename>-<version>.tgz, immutable, edge-cached by digest.
npmRoutes.on("GET", namePaths("", "/-/:file"), async (c) => {
  const name = nameParam(c);
  await requireRead(c);
  const file = c.req.param("file")!;
  const prefix = `${name.replace(/^@[^/]+\//, "")}-`;
  const version = file.startsWith(prefix) && file.endsWith(".tgz") ? file.slice(prefix.length, -4) : "";
  const artifact = version ? await findArtifact(c, name, version) : null;
  if (!artifact?.npm || tarballPath(name, version) !== `/${name}/-/${file}`) throw notFound(`no tarball ${file.slice(0, 120)} for ${name}`);
  return serveArtifact(c, artifact, file);
});

const isStarCommand = (c: AppContext) => ["star", "unstar"].includes(c.req.header("npm-command") ?? "");

/** Unpublishing would break immutability: refuse, and say what to do instead. */
const immutable = (c: AppContext) => {
  // npm owner add / rm write `maintainers` through this same route.
  if (c.req.header("npm-command") === "owner") throw unsupported("owners");
  if (isStarCommand(c)) throw unsupported("stars");
  throw new ApiError(405, "immutable", "versions are immutable on countersign and cannot be unpublished; deprecate them instead (npm deprecate)");
};
npmRoutes.on(["PUT", "DELETE"], namePaths("", "/-rev/:rev"), immutable);
npmRoutes.on("DELETE", namePaths(""), immutable);

npmRoutes.on("GET", namePaths("", "/:version"), async (c) => {
  const name = nameParam(c);
  await requireRead(c);
  const spec = c.req.param("version")!;
  const npm = await c.var.deps.npmSigner();
  const { versions, tags } = await c.var.deps.meta.packumentSource(name, false);
  const signatures = await completeNpmSignatures(versions, npm);
  if (signatures.length) waitUntil(c, c.var.deps.meta.rememberNpmSignatures(signatures));
  const packument = buildPackument(versions, tags, registryOrigin(c), false, npm?.keyid ?? null) as { versions: Record<string, unknown>; "dist-tags": Record<string, string> } | null;
  const version = packument?.versions[spec] ?? packument?.versions[packument["dist-tags"][spec] ?? ""];
  if (!version) throw notFound(`${name}@${spec.slice(0, 64)} does not exist`);
  return c.json(version);
});

// The packument: full, or abbreviated for installers; conditional with a strong ETag; from the
// edge cache when the package has not been written since (npm/packument-cache.ts).
npmRoutes.on("GET", namePaths(""), async (c) => {
  const name = nameParam(c);
  await requireRead(c); // first: a cached packument is only ever served to a request that may read
  const abbreviated = (c.req.header("accept") ?? "").includes(ABBREVIATED_TYPE) && c.req.query("write") === undefined;
  const packument = await servePackument(c, name, abbreviated);
  if (!packument) throw notFound(`${name} is not in this registry`);
  const headers = {
    "Content-Type": `${abbreviated ? ABBREVIATED_TYPE : "application/json"}; charset=utf-8`,
    ETag: packument.etag,
    Vary: "Accept, Authorization",
    "Cache-Control": c.var.deps.config.readAccess === "public" ? "public, max-age=30" : "private, max-age=30",
  };
  if (matchesIfNoneMatch(c.req.header("if-none-match"), packument.etag)) {
    if (typeof packument.body !== "string") await packument.body.cancel();
    return c.body(null, 304, headers);
  }
  return c.body(packument.body, 200, headers);
});

// PUT /<name>: npm publish (refused: unsigned) or a metadata update (npm deprecate).
npmRoutes.on("PUT", namePaths(""), async (c) => {
  const name = nameParam(c);
  // npm star / unstar PUT { _id, _rev, users }: refused whoever asks (npm names its command in a header).
  if (isStarCommand(c)) throw unsupported("stars");
  await requirePublisher(c, name);
  const limit = Math.ceil((c.var.deps.config.maxArtifactBytes * 4) / 3) + 1024 * 1024;
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(await readBounded(c.req.raw.body, limit)));
  } catch (err) {
    if (err instanceof ApiError) throw err;
    throw badRequest("malformed_json", "the request body is not valid JSON");
  }
  if (!isPlainObject(body)) throw badRequest("invalid_body", "the request body must be a JSON object");

  if (isPlainObject(body._attachments) && Object.keys(body._attachments).length > 0) {
    await checkNpmPublishBody(name, body);
    // Where a second key must approve (routes/staging.ts), say so: signing alone would not do.
    const namespace = namespaceOf(name);
    if ((await c.var.deps.staging.context({ namespace, name, version: "", now: c.var.deps.now() })).approvalRequired) throw approvalRequired(namespace);
    throw new ApiError(
      403,
      "publisher_signature_required",
      `this registry accepts only publisher-signed packages; publish with the countersign client (installed from your release tarball or your own registry, never from a public one): countersign publish <package-dir> --registry ${registryOrigin(c)}`,
      { layer: "publisher" },
    );
  }

  if (body.users !== undefined && body.versions === undefined) throw unsupported("stars");
  if (body.maintainers !== undefined && body.versions === undefined) throw unsupported("owners");
  // npm deprecate: the whole packument comes back with `deprecated` set on some versions.
  if (body.name !== name || !isPlainObject(body.versions)) throw badRequest("invalid_body", `expected the packument of ${name} with its versions`);
  const { versions } = await c.var.deps.meta.listVersions(name);
  if (versions.length === 0) throw notFound(`${name} does not exist`);
  const stored = new Map(versions.map((v) => [v.version, v]));
  const changes: { version: string; message: string | null }[] = [];
  for (const [version, doc] of Object.entries(body.versions)) {
    const row = stored.get(version);
    if (!row) throw badRequest("unknown_version", `${name}@${version.slice(0, 64)} does not exist; new versions are published with countersign publish`);
    const wanted = isPlainObject(doc) && typeof doc.deprecated === "string" && doc.deprecated !== "" ? doc.deprecated.slice(0, 1024) : null;
    if (wanted !== row.deprecated) changes.push({ version, message: wanted });
  }
  await c.var.deps.meta.setDeprecations(name, changes);
  if (changes.length) await recordMetadataChange(c, name);
  return c.json({ ok: true, changed: changes.length });
});
