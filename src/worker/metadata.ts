/**
 * @module
 * The registry side of signed package metadata (core/package-metadata.ts, PROTOCOL §19): the
 * statement for a package, signed on demand from what D1 holds (storage/meta.ts
 * `MetadataSource`, read in the same round trip as the rest of the answer).
 *
 * A statement is issued at the start of the current six-hour window and expires 24 hours later,
 * so whenever it is served it has 18 to 24 hours left, and every isolate in every data centre
 * signs the *same bytes* for a package in a window (Ed25519 signatures are deterministic): a
 * packument cached at the edge under its window is identical to a freshly built one, and each
 * isolate signs a package at most once per window and serial.
 */

import semverCompare from "semver/functions/compare.js";
import semverPrerelease from "semver/functions/prerelease.js";
import { signPackageMetadata, type Envelope, type MetadataVersion, type Signer } from "../core/index.js";
import type { MetadataSource, PackumentSource } from "./storage/meta.js";

export const METADATA_WINDOW_MS = 6 * 60 * 60 * 1000;
/** Signed statements kept per isolate; past this the memo starts over (a window's worth of hot packages). */
const MEMO_LIMIT = 5000;
const memo = new Map<string, Promise<Envelope>>();

/** The start of the window `now` falls in: the statement's `issuedAt`. */
export function metadataWindow(now: Date): Date {
  return new Date(Math.floor(now.getTime() / METADATA_WINDOW_MS) * METADATA_WINDOW_MS);
}

/** The signed metadata of `name` as `source` describes it, for the window `now` is in. */
export function signedMetadata(signer: Signer, origin: string, name: string, source: MetadataSource, now: Date): Promise<Envelope> {
  const issuedAt = metadataWindow(now);
  const key = `${signer.keyid} ${origin} ${name} ${source.serial} ${issuedAt.getTime()}`;
  let signed = memo.get(key);
  if (!signed) {
    if (memo.size >= MEMO_LIMIT) memo.clear();
    const versions: MetadataVersion[] = source.versions.map((v) => ({
      version: v.version,
      sequence: v.sequence,
      sha512: v.sha512,
      publishedAt: v.publishedAt,
      ...(v.deprecated ? { deprecated: v.deprecated } : {}),
    }));
    signed = signPackageMetadata({ name, origin, serial: source.serial, versions, distTags: signedTags(source), revokedKeys: source.revokedKeys, issuedAt }, signer);
    memo.set(key, signed);
    signed.catch(() => memo.delete(key));
  }
  return signed;
}

/** The dist-tags a package's statement signs, and its packuments serve. */
export function signedTags(source: MetadataSource): Record<string, string> {
  return withLatest(source.tags, source.versions.map((v) => v.version));
}

/**
 * The dist-tags as served: the stored ones, and `latest` when none is stored — the highest
 * release (or the highest version), so installs still resolve and the signed tags are the
 * served ones.
 */
export function withLatest(tags: Record<string, string>, versions: string[]): Record<string, string> {
  if (tags.latest || versions.length === 0) return tags;
  const sorted = [...versions].sort(semverCompare);
  const releases = sorted.filter((v) => !semverPrerelease(v));
  return { ...tags, latest: (releases.length ? releases : sorted).at(-1)! };
}

/** The metadata source within a packument's source (the same batch read them). */
export function metadataSourceOf(source: PackumentSource): MetadataSource {
  return {
    serial: source.serial ?? 1,
    versions: source.versions.map((v) => ({ version: v.version, sequence: v.sequence, sha512: v.sha512, publishedAt: v.publishedAt, deprecated: v.deprecated })),
    tags: source.tags,
    revokedKeys: source.revokedKeys ?? [],
    ...(source.recorded ? { recorded: source.recorded } : {}),
  };
}
