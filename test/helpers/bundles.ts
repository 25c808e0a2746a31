/**
 * @module
 * Makes provenance bundles without a running registry, with the same core functions the Worker
 * uses (signPublishStatement, countersign), for verification tests and benchmarks.
 */

import {
  artifactDigests,
  BUNDLE_MEDIA_TYPE,
  countersign,
  createSigner,
  openEnvelope,
  parsePublishStatement,
  signPublishStatement,
  type Bundle,
  type Envelope,
  type Signer,
} from "../../src/core/index.js";

export interface Made {
  bundle: Bundle;
  digests: { sha256: string; sha512: string };
  size: number;
}

/** Plays the registry's part on a publisher envelope: parse, check, countersign. */
export async function registryCountersign(envelope: Envelope, registry: Signer, at: { origin?: string; sequence?: number; publishedAt?: Date } = {}): Promise<Bundle> {
  const opened = openEnvelope(envelope);
  if ("problem" in opened) throw new Error(opened.problem);
  const parsed = await parsePublishStatement(opened.payload);
  if (!parsed.ok) throw new Error(parsed.error);
  const countersignature = await countersign(opened, parsed.value.statement, registry, {
    origin: at.origin ?? "https://registry.test",
    publishedAt: at.publishedAt ?? new Date("2026-11-24T12:00:00.000Z"),
    sequence: at.sequence ?? 1,
  });
  return { mediaType: BUNDLE_MEDIA_TYPE, publisher: envelope, countersignature };
}

export async function makeBundle(options: { publisher: Signer; registry: Signer; name: string; version: string; bytes: Uint8Array; sequence?: number; origin?: string }): Promise<Made> {
  const digests = await artifactDigests(options.bytes);
  const size = options.bytes.length;
  const envelope = await signPublishStatement({ name: options.name, version: options.version, digests, size, publisher: options.publisher, createdAt: new Date("2026-11-24T11:00:00.000Z") });
  const bundle = await registryCountersign(envelope, options.registry, { sequence: options.sequence, origin: options.origin });
  return { bundle, digests, size };
}

export async function signerFromSeedByte(byte: number): Promise<Signer> {
  return createSigner(new Uint8Array(32).fill(byte));
}
