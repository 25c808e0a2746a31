/**
 * @module
 * One client for everything the verifier asks a registry, with every URL template in one place:
 *
 * - `bundles(specs)`: `POST <base>/-/countersign/v1/bundles`, PER_REQUEST name@versions per
 *   request, a few in flight. A registry without that API (a plain mirror or proxy) answers
 *   "unsupported", and the caller reads the bundles from its packuments instead.
 * - `packumentBundles(specs)`: `dist.countersign` of the full packuments it serves
 *   (`Accept: application/json`: the document plain mirrors copy, with each bundle inline). A
 *   version may instead carry the abbreviated document's link, `{ url, sha256 }`: it is followed
 *   only to this same registry, and the bytes must have that SHA-256; a link that cannot be
 *   followed is no bundle (so the package fails as not countersigned), never a skip.
 * - `provenance(specs)`: the first, or the second where the first is unsupported.
 * - `tarballSha512(name, version)`: the tarball this registry serves for a version, hashed
 *   while streaming (for lockfiles whose checksum is not of the tarball, like yarn berry's).
 * - the package's signed metadata (core/package-metadata.ts) travels with the bundles: the batch
 *   answer's `metadata` map, or the full packument's top-level `countersign.metadata`
 *   (`provenanceAnswer`); `packageMetadata(name)` asks for one package alone (`add`, `fetch`).
 *   What is returned is as served, unopened: verification/metadata.ts judges it.
 *
 * A base URL is only a locator: nothing here decides trust. The token goes only to the exact
 * registry it was given for (a pinned one), never to a host a lockfile names.
 */

import { createHash } from "node:crypto";
import { ABBREVIATED_TYPE } from "../../src/core/index.js";
import { encodeName, limitOf, readBody, readJson, request, ResponseTooLargeError, streamBody, TRANSFER_TIMEOUT_MS, UnreachableError } from "./http.js";

const PER_REQUEST = 250;
const IN_FLIGHT = 4;

export interface Spec {
  name: string;
  version: string;
}

export const specKey = (s: Spec) => `${s.name}@${s.version}`;

/** Bundles by `name@version` and signed metadata envelopes by package name, as served (unchecked). */
export interface ProvenanceAnswer {
  bundles: Map<string, unknown>;
  metadata: Map<string, unknown>;
  /** Where each statement's serial is in the log (`metadataLog`, PROTOCOL §19.1), by package name, unchecked. */
  metadataLog: Map<string, unknown>;
  /** The registry's key rotations as served (PROTOCOL §21), unopened. */
  rotations: unknown[];
}

export type BundleAnswer = ({ supported: true } & ProvenanceAnswer) | { supported: false };

/** The parts of a packument the client reads (attacker-controlled: check before use). */
export interface PackumentVersion {
  version?: unknown;
  deprecated?: unknown;
  dist?: { tarball?: unknown; integrity?: unknown; countersign?: unknown };
}
export interface Packument {
  versions?: Record<string, PackumentVersion>;
  "dist-tags"?: unknown;
  /** The full document's signed metadata and where its serial is in the log: `countersign.metadata`, `.metadataLog` (absent from abbreviated ones). */
  countersign?: { metadata?: unknown; metadataLog?: unknown };
}

/** A package's signed metadata as one place serves it, and its `metadataLog` reference (both unchecked). */
export interface ServedPackageMetadata {
  envelope: unknown;
  log: unknown;
}

/** The signed metadata a full packument carries (undefined: none), with its log reference. */
export function packumentMetadata(doc: Packument | undefined): ServedPackageMetadata | undefined {
  const block = doc?.countersign;
  if (typeof block !== "object" || block === null || Array.isArray(block)) return undefined;
  const { metadata, metadataLog } = block as { metadata?: unknown; metadataLog?: unknown };
  return metadata === undefined || metadata === null ? undefined : { envelope: metadata, log: metadataLog };
}

const BUNDLE_MEDIA_TYPE = "application/vnd.countersign.bundle.v1+json";

const objectOrEmpty = (value: unknown): Record<string, unknown> => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {});

/** Every 4xx: an answer (no bundle there), not an outage. */
const CLIENT_ERRORS = Array.from({ length: 100 }, (_, i) => 400 + i);

/**
 * What a version's `dist.countersign` holds: the bundle inline (the full packument), a link to
 * it bound by digest (the abbreviated one), or nothing usable. Anything that is an object and
 * not a link is taken as a bundle, for verification to judge.
 */
export function provenanceForm(value: unknown): { form: "inline"; bundle: unknown } | { form: "link"; url: string; sha256: string } | { form: "none"; reason: string } {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { form: "none", reason: "no dist.countersign" };
  const fields = value as { mediaType?: unknown; url?: unknown; sha256?: unknown };
  if (fields.mediaType === BUNDLE_MEDIA_TYPE || !("url" in fields)) return { form: "inline", bundle: value };
  if (typeof fields.url !== "string" || typeof fields.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(fields.sha256)) return { form: "none", reason: "a malformed bundle link" };
  return { form: "link", url: fields.url, sha256: fields.sha256 };
}

/** Runs `task` over `items` with at most `width` in flight; the first error stops the rest. */
async function inFlight<T>(items: T[], width: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

export class RegistryClient {
  private readonly packuments = new Map<string, Promise<Packument | undefined>>();

  constructor(
    readonly base: string,
    private readonly token?: string,
  ) {}

  get host(): string {
    return new URL(this.base).host;
  }

  /** Bundles by `name@version` from the batch API, or `supported: false` when it has none. */
  async bundles(specs: Spec[]): Promise<BundleAnswer> {
    const keys = [...new Set(specs.map(specKey))];
    const chunks: string[][] = [];
    for (let i = 0; i < keys.length; i += PER_REQUEST) chunks.push(keys.slice(i, i + PER_REQUEST));
    const bundles = new Map<string, unknown>();
    const metadata = new Map<string, unknown>();
    const metadataLog = new Map<string, unknown>();
    let rotations: unknown[] = [];
    let supported = true;
    await inFlight(chunks, IN_FLIGHT, async (chunk) => {
      if (!supported) return;
      const url = `${this.base}/-/countersign/v1/bundles`;
      const response = await request(url, {
        method: "POST",
        token: this.token,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ packages: chunk }),
        accept: [400, 404, 405],
      });
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        supported = false;
        return;
      }
      // Too large or cut off: an error. Not JSON: a registry without the batch API.
      const body = await readJson<{ bundles?: unknown; metadata?: unknown; metadataLog?: unknown; rotations?: unknown }>(response, url, limitOf("bundles"), "provenance bundles").catch((err: unknown): { bundles?: unknown; metadata?: unknown; metadataLog?: unknown; rotations?: unknown } => {
        if (err instanceof UnreachableError || err instanceof ResponseTooLargeError) throw err;
        return {};
      });
      if (typeof body.bundles !== "object" || body.bundles === null) {
        supported = false;
        return;
      }
      const answered = body.bundles as Record<string, unknown>;
      for (const key of chunk) if (Object.hasOwn(answered, key) && answered[key]) bundles.set(key, answered[key]);
      // Each package's signed metadata, only for names this chunk asked about (the rest is ignored).
      const signed = objectOrEmpty(body.metadata);
      const logged = objectOrEmpty(body.metadataLog);
      for (const name of new Set(chunk.map((key) => key.slice(0, key.lastIndexOf("@"))))) {
        if (Object.hasOwn(signed, name) && signed[name] && !metadata.has(name)) {
          metadata.set(name, signed[name]);
          if (Object.hasOwn(logged, name)) metadataLog.set(name, logged[name]);
        }
      }
      if (Array.isArray(body.rotations) && body.rotations.length > rotations.length) rotations = body.rotations.slice(0, 64);
    });
    return supported ? { supported, bundles, metadata, metadataLog, rotations } : { supported };
  }

  /** The abbreviated packument (cached per name); undefined when the registry does not have it. */
  packument(name: string): Promise<Packument | undefined> {
    return this.fetchPackument(name, true);
  }

  /** The full packument (cached per name), where a plain mirror keeps each bundle inline. */
  fullPackument(name: string): Promise<Packument | undefined> {
    return this.fetchPackument(name, false);
  }

  private fetchPackument(name: string, abbreviated: boolean): Promise<Packument | undefined> {
    const cacheKey = `${abbreviated ? "abbreviated" : "full"} ${name}`;
    let found = this.packuments.get(cacheKey);
    if (!found) {
      found = (async () => {
        const url = `${this.base}/${encodeName(name)}`;
        const accept = abbreviated ? ABBREVIATED_TYPE : "application/json";
        const response = await request(url, { token: this.token, headers: { accept }, accept: [401, 403, 404] });
        if (!response.ok) {
          await response.body?.cancel().catch(() => undefined);
          return undefined;
        }
        const doc = await readJson<unknown>(response, url, limitOf("packument"), `the packument of ${name}`);
        return typeof doc === "object" && doc !== null ? (doc as Packument) : undefined;
      })();
      this.packuments.set(cacheKey, found);
    }
    return found;
  }

  /** Bundles from `dist.countersign` of the full packuments this registry serves (inline, or a link followed here). */
  async packumentBundles(specs: Spec[]): Promise<Map<string, unknown>> {
    return (await this.packumentProvenance(specs)).bundles;
  }

  /** Bundles and signed metadata from the full packuments this registry serves. */
  async packumentProvenance(specs: Spec[]): Promise<ProvenanceAnswer> {
    const bundles = new Map<string, unknown>();
    const metadata = new Map<string, unknown>();
    const metadataLog = new Map<string, unknown>();
    const byName = new Map<string, Spec[]>();
    for (const spec of specs) byName.set(spec.name, [...(byName.get(spec.name) ?? []), spec]);
    await inFlight([...byName], 8, async ([name, versions]) => {
      const doc = await this.fullPackument(name);
      const signed = packumentMetadata(doc);
      if (signed !== undefined) {
        metadata.set(name, signed.envelope);
        metadataLog.set(name, signed.log);
      }
      for (const spec of versions) {
        const version = doc?.versions && Object.hasOwn(doc.versions, spec.version) ? doc.versions[spec.version] : undefined;
        const bundle = await this.bundleFrom(spec, version?.dist?.countersign);
        if (bundle !== undefined) bundles.set(specKey(spec), bundle);
      }
    });
    return { bundles, metadata, metadataLog, rotations: [] }; // rotations come from the batch API (a plain mirror has none)
  }

  /**
   * The bundle a `dist.countersign` value gives, or undefined: no value, a malformed link, a
   * link to anywhere but this registry, a link that does not answer 200 with JSON, or bytes
   * whose SHA-256 is not the link's. An outage while following it is an outage (thrown).
   */
  async bundleFrom(spec: Spec, value: unknown): Promise<unknown> {
    const form = provenanceForm(value);
    if (form.form === "inline") return form.bundle;
    if (form.form === "none") return undefined;
    let url: string;
    try {
      url = new URL(form.url).href; // resolves "..", so the prefix test below means what it says
    } catch {
      return undefined;
    }
    if (!url.startsWith(`${this.base}/`)) return undefined;
    const response = await request(url, { token: this.token, accept: CLIENT_ERRORS });
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      return undefined;
    }
    const bytes = await readBody(response, url, limitOf("json"), `the bundle of ${specKey(spec)}`);
    if (createHash("sha256").update(bytes).digest("hex") !== form.sha256) return undefined;
    try {
      return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    } catch {
      return undefined;
    }
  }

  /** Bundles from the batch API, or from the packuments where this registry has no batch API. */
  async provenance(specs: Spec[]): Promise<Map<string, unknown>> {
    return (await this.provenanceAnswer(specs)).bundles;
  }

  /** Bundles and signed metadata from the batch API, or from the full packuments where this registry has no batch API. */
  async provenanceAnswer(specs: Spec[]): Promise<ProvenanceAnswer> {
    const answer = await this.bundles(specs);
    return answer.supported ? { bundles: answer.bundles, metadata: answer.metadata, metadataLog: answer.metadataLog, rotations: answer.rotations } : this.packumentProvenance(specs);
  }

  /**
   * The signed metadata of one package as this registry serves it: `metadata` of the native
   * `GET /-/countersign/v1/packages/<name>`, else (a plain mirror, which has no native API) the
   * full packument's `countersign.metadata`; undefined when neither carries any.
   */
  async packageMetadata(name: string): Promise<ServedPackageMetadata | undefined> {
    const url = `${this.base}/-/countersign/v1/packages/${encodeName(name)}`;
    const response = await request(url, { token: this.token, accept: CLIENT_ERRORS });
    if (response.ok) {
      const body = await readJson<unknown>(response, url, limitOf("packument"), `the package metadata of ${name}`).catch((err: unknown) => {
        if (err instanceof UnreachableError || err instanceof ResponseTooLargeError) throw err;
        return undefined;
      });
      const { metadata, metadataLog } = typeof body === "object" && body !== null ? (body as { metadata?: unknown; metadataLog?: unknown }) : {};
      if (metadata !== undefined && metadata !== null) return { envelope: metadata, log: metadataLog };
    } else await response.body?.cancel().catch(() => undefined);
    return packumentMetadata(await this.fullPackument(name));
  }

  /** The sha512 (hex) of the tarball this registry serves for `name@version`, or undefined if it has none. */
  async tarballSha512(spec: Spec): Promise<string | undefined> {
    const doc = await this.packument(spec.name);
    const tarball = doc?.versions && Object.hasOwn(doc.versions, spec.version) ? doc.versions[spec.version]?.dist?.tarball : undefined;
    if (typeof tarball !== "string" || !/^https?:\/\//.test(tarball)) return undefined;
    // Send the token only when the tarball lives on this very registry.
    const sameRegistry = tarball.startsWith(`${this.base}/`);
    const response = await request(tarball, { token: sameRegistry ? this.token : undefined, timeoutMs: TRANSFER_TIMEOUT_MS });
    const hash = createHash("sha512");
    await streamBody(response, tarball, limitOf("tarball"), `the tarball of ${specKey(spec)}`, (chunk) => hash.update(chunk));
    return hash.digest("hex");
  }
}
