/**
 * @module
 * One client for everything the verifier asks a registry, with every URL template in one place:
 *
 * - `bundles(specs)`: `POST <base>/-/countersign/v1/bundles`, PER_REQUEST name@versions per
 *   request, a few in flight. A registry without that API (a plain mirror or proxy) answers
 *   "unsupported", and the caller reads the bundles from its packuments instead.
 * - `packumentBundles(specs)`: `dist.countersign` of the abbreviated packuments it serves.
 * - `tarballSha512(name, version)`: the tarball this registry serves for a version, hashed
 *   while streaming (for lockfiles whose checksum is not of the tarball, like yarn berry's).
 *
 * A base URL is only a locator: nothing here decides trust. The token goes only to the exact
 * registry it was given for (a pinned one), never to a host a lockfile names.
 */

import { createHash } from "node:crypto";
import { ABBREVIATED_TYPE } from "../../src/core/index.js";
import { encodeName, limitOf, readJson, request, ResponseTooLargeError, streamBody, TRANSFER_TIMEOUT_MS, UnreachableError } from "./http.js";

const PER_REQUEST = 250;
const IN_FLIGHT = 4;

export interface Spec {
  name: string;
  version: string;
}

export const specKey = (s: Spec) => `${s.name}@${s.version}`;

export type BundleAnswer = { supported: true; bundles: Map<string, unknown> } | { supported: false };

/** The parts of an abbreviated packument the client reads (attacker-controlled: check before use). */
export interface PackumentVersion {
  version?: unknown;
  deprecated?: unknown;
  dist?: { tarball?: unknown; integrity?: unknown; countersign?: unknown };
}
export interface Packument {
  versions?: Record<string, PackumentVersion>;
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
      const body = await readJson<{ bundles?: unknown }>(response, url, limitOf("bundles"), "provenance bundles").catch((err: unknown): { bundles?: unknown } => {
        if (err instanceof UnreachableError || err instanceof ResponseTooLargeError) throw err;
        return {};
      });
      if (typeof body.bundles !== "object" || body.bundles === null) {
        supported = false;
        return;
      }
      const answered = body.bundles as Record<string, unknown>;
      for (const key of chunk) if (Object.hasOwn(answered, key) && answered[key]) bundles.set(key, answered[key]);
    });
    return supported ? { supported, bundles } : { supported };
  }

  /** The abbreviated packument (cached per name); undefined when the registry does not have it. */
  packument(name: string): Promise<Packument | undefined> {
    let found = this.packuments.get(name);
    if (!found) {
      found = (async () => {
        const url = `${this.base}/${encodeName(name)}`;
        const response = await request(url, { token: this.token, headers: { accept: ABBREVIATED_TYPE }, accept: [401, 403, 404] });
        if (!response.ok) {
          await response.body?.cancel().catch(() => undefined);
          return undefined;
        }
        const doc = await readJson<unknown>(response, url, limitOf("packument"), `the packument of ${name}`);
        return typeof doc === "object" && doc !== null ? (doc as Packument) : undefined;
      })();
      this.packuments.set(name, found);
    }
    return found;
  }

  /** Bundles from `dist.countersign` of the packuments this registry serves. */
  async packumentBundles(specs: Spec[]): Promise<Map<string, unknown>> {
    const bundles = new Map<string, unknown>();
    const byName = new Map<string, Spec[]>();
    for (const spec of specs) byName.set(spec.name, [...(byName.get(spec.name) ?? []), spec]);
    await inFlight([...byName], 8, async ([name, versions]) => {
      const doc = await this.packument(name);
      for (const spec of versions) {
        const version = doc?.versions && Object.hasOwn(doc.versions, spec.version) ? doc.versions[spec.version] : undefined;
        if (version?.dist?.countersign) bundles.set(specKey(spec), version.dist.countersign);
      }
    });
    return bundles;
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
