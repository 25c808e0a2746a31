/**
 * @module
 * npm packuments built from stored versions: the full document and the abbreviated one
 * (`Accept: application/vnd.npm.install-v1+json`) that installers ask for.
 *
 * Everything npm reads about a version comes from the package.json inside the signed tarball
 * (stored at publish), never from what a client sent. Each version's `dist.countersign` carries
 * our provenance (docs/PROTOCOL.md §11):
 *
 * - in the full document, the whole bundle inline: plain mirrors copy the full document, and
 *   whoever reads a mirror needs every byte of the bundle from it;
 * - in the abbreviated document, a link bound by digest, `{ "url", "sha256" }`: the bundle
 *   route's URL and the SHA-256 of exactly the bytes it serves. Installers ignore it, so the
 *   document stays about as small as any registry's; the bundle authenticates itself through
 *   its signatures, and the digest only pins which bytes (as npm's `dist.attestations` does).
 *
 * `dist.signatures` holds npm's own registry signature, ECDSA P-256 by NPM_SIGNING_KEY
 * (npm/signatures.ts), when the registry has that key: never an Ed25519 entry, which npm cannot
 * verify and which would break `npm audit signatures`.
 */

import { fromBase64, fromUtf8, isPlainObject, jsonTooDeep, sha256, sriFromHex, toHex, utf8, type Envelope } from "../../core/index.js";
import { withLatest } from "../metadata.js";
import type { BundleDigest, PackumentRow } from "../storage/meta.js";
import { storedNpmSignature } from "./signatures.js";

export { ABBREVIATED_TYPE } from "../../core/index.js";

/** Fields of a version kept in the abbreviated document (npm/registry docs, plus newer clients). */
const ABBREVIATED_FIELDS = [
  "name",
  "version",
  "deprecated",
  "dependencies",
  "optionalDependencies",
  "devDependencies",
  "bundleDependencies",
  "bundledDependencies",
  "peerDependencies",
  "peerDependenciesMeta",
  "bin",
  "directories",
  "engines",
  "os",
  "cpu",
  "funding",
  "license",
] as const;

const INSTALL_SCRIPTS = ["preinstall", "install", "postinstall"];

/**
 * The shape of the documents built here. It is part of every packument cache key
 * (packument-cache.ts): change it whenever what this module builds changes, or edge caches
 * keep serving the old shape until the package is next written.
 */
export const PACKUMENT_FORMAT = 6;

/**
 * npm's person object for a publisher key: `name` is the key's label (the fingerprint when it
 * has none), `email` the fingerprint, so npm prints `label <SHA256:…>` (`npm owner ls`, `npm
 * view`). Labels are set by the registry's operators at enrolment and are public from here.
 */
export function keyPerson(keyid: string, label: string | null | undefined): { name: string; email: string } {
  return { name: label || keyid, email: keyid };
}

/** What only the full document carries (PackumentSource's `readme` and `maintainers`). */
export interface PackumentExtras {
  readme?: { version: string; text: string } | null;
  maintainers?: { keyid: string; label: string }[];
  /**
   * The package's signed metadata (metadata.ts), served as `countersign.metadata` in the full
   * document (beside `countersign.metadataLog`, where its serial is in the log: packument-cache.ts).
   */
  metadata?: Envelope;
}

/** Where a version's bundle is served: the native bundle route (routes/packages.ts). */
export function bundlePath(name: string, version: string): string {
  return `/-/countersign/v1/packages/${name}/${version}`;
}

/** `/@scope/name/-/name-1.2.3.tgz`, as the npm registry names tarballs. */
export function tarballPath(name: string, version: string): string {
  return `/${name}/-/${name.replace(/^@[^/]+\//, "")}-${version}.tgz`;
}

function versionDocument(row: PackumentRow, origin: string, abbreviated: boolean, npmKeyid: string | null): Record<string, unknown> {
  const manifest = JSON.parse(row.manifest!) as unknown;
  if (!isPlainObject(manifest)) throw new TypeError("stored manifest is not a JSON object");
  if (abbreviated ? row.bundleSha256 === null : row.bundle === null) throw new TypeError("bundle not read");
  const signature = storedNpmSignature(row, npmKeyid);
  const dist = {
    tarball: `${origin}${tarballPath(row.name, row.version)}`,
    integrity: sriFromHex("sha512", row.sha512),
    shasum: row.sha1,
    ...(signature ? { signatures: [signature] } : {}),
    countersign: abbreviated ? { url: `${origin}${bundlePath(row.name, row.version)}`, sha256: row.bundleSha256 } : (JSON.parse(row.bundle!) as unknown),
  };
  const doc: Record<string, unknown> = {};
  if (abbreviated) {
    for (const field of ABBREVIATED_FIELDS) if (manifest[field] !== undefined) doc[field] = manifest[field];
    const scripts = manifest.scripts as Record<string, unknown> | undefined;
    if (scripts && INSTALL_SCRIPTS.some((s) => typeof scripts[s] === "string")) doc.hasInstallScript = true;
  } else {
    Object.assign(doc, manifest, { _id: `${row.name}@${row.version}`, _npmUser: keyPerson(row.publisherKeyid, row.publisherLabel) }, { countersign: provenanceSummary(row) });
  }
  doc.name = row.name;
  doc.version = row.version;
  if (row.deprecated) doc.deprecated = row.deprecated;
  else delete doc.deprecated;
  doc.dist = dist;
  return doc;
}

/**
 * A readable digest of the signed attributes for people browsing the full packument. It is
 * derived from `dist.countersign`, which is what verifiers check; this summary is not signed.
 */
function provenanceSummary(row: PackumentRow): Record<string, unknown> {
  const bundle = JSON.parse(row.bundle!) as { publisher: { payload: string } };
  const statement = JSON.parse(fromUtf8(fromBase64(bundle.publisher.payload)!)) as { predicate: { attributes: { ai?: unknown; files?: unknown[] } } };
  const { ai, files } = statement.predicate.attributes;
  return { publisher: row.publisherKeyid, sequence: row.sequence, ai: ai ?? null, files: files?.length ?? null, reviews: row.reviewCount };
}

/**
 * Hashes the bundles of npm versions whose digest was not remembered (the abbreviated document
 * links each bundle by its SHA-256) and returns those digests, for `rememberBundleDigests`.
 */
export async function completeBundleDigests(rows: PackumentRow[]): Promise<BundleDigest[]> {
  const missing = rows.filter((r) => r.manifest !== null && r.bundleSha256 === null && r.bundle !== null);
  // One at a time, dropping each text once hashed: a first build may read hundreds of large bundles.
  for (const r of missing) {
    r.bundleSha256 = toHex(await sha256(utf8(r.bundle!)));
    r.bundle = null;
  }
  return missing.map((r) => ({ name: r.name, version: r.version, reviews: r.reviewCount, sha256: r.bundleSha256! }));
}

/**
 * One version's document, or null if what is stored for it cannot be served (e.g. a manifest
 * stored before publish bounded its depth): one bad version must not take the package offline.
 */
function safeVersionDocument(row: PackumentRow, origin: string, abbreviated: boolean, npmKeyid: string | null): Record<string, unknown> | null {
  try {
    // (The abbreviated document does not parse the bundle, so only the full one checks it.)
    if (jsonTooDeep(row.manifest!) || (!abbreviated && row.bundle !== null && jsonTooDeep(row.bundle))) throw new RangeError("nested too deep");
    // (Bounded depth also means the packument's JSON.stringify cannot overflow on this version.)
    return versionDocument(row, origin, abbreviated, npmKeyid);
  } catch (err) {
    console.error(`packument: skipping ${row.name}@${row.version}, stored manifest unusable (${err instanceof Error ? err.name : typeof err})`);
    return null;
  }
}

/**
 * Abbreviated: every npm row needs `bundleSha256` (completeBundleDigests); full: `bundle`.
 * `npmKeyid`: the current NPM_SIGNING_KEY's; only signatures by it are served (`dist.signatures`),
 * so rows should first go through completeNpmSignatures. Null: no `dist.signatures` at all.
 */
export function buildPackument(rows: PackumentRow[], tags: Record<string, string>, origin: string, abbreviated: boolean, npmKeyid: string | null = null, extras: PackumentExtras = {}): Record<string, unknown> | null {
  const versions: Record<string, unknown> = {};
  const npmRows: PackumentRow[] = [];
  for (const row of rows) {
    if (row.manifest === null) continue;
    const doc = safeVersionDocument(row, origin, abbreviated, npmKeyid);
    if (!doc) continue;
    versions[row.version] = doc;
    npmRows.push(row);
  }
  if (npmRows.length === 0) return null;
  const name = npmRows[0]!.name;
  const distTags = withLatest(
    Object.fromEntries(Object.entries(tags).filter(([, v]) => v in versions)),
    npmRows.map((r) => r.version),
  );
  const modified = npmRows.reduce((latest, r) => (r.publishedAt > latest ? r.publishedAt : latest), npmRows[0]!.publishedAt);
  const signed = extras.metadata ? { countersign: { metadata: extras.metadata } } : {};
  if (abbreviated) return { name, modified, "dist-tags": distTags, versions };

  const latest = versions[distTags.latest!] as Record<string, unknown> | undefined;
  const time: Record<string, string> = { created: npmRows[0]!.publishedAt, modified };
  for (const row of npmRows) time[row.version] = row.publishedAt;
  const readme = extras.readme && extras.readme.version === distTags.latest ? extras.readme.text : undefined;
  return {
    _id: name,
    _rev: `${npmRows.length}-${npmRows.at(-1)!.sequence}`,
    name,
    ...(latest?.description !== undefined ? { description: latest.description } : {}),
    "dist-tags": distTags,
    versions,
    time,
    ...(extras.maintainers ? { maintainers: extras.maintainers.map((k) => keyPerson(k.keyid, k.label)) } : {}),
    ...(readme !== undefined ? { readme } : {}),
    ...(latest?.license !== undefined ? { license: latest.license } : {}),
    ...(latest?.repository !== undefined ? { repository: latest.repository } : {}),
    ...signed,
  };
}
