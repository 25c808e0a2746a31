/**
 * @module
 * Fetching provenance bundles in bulk: `POST <registry>/-/countersign/v1/bundles` with up to
 * 1000 name@versions per request, a few requests in flight. A registry that does not speak the
 * countersign API (a mirror, a proxy) may still pass our packuments through: then the bundles
 * come from the packuments that served the packages (`dist.countersign`), one per name.
 */

import { encodeName, request } from "./http.js";

const PER_REQUEST = 1000;
const IN_FLIGHT = 4;

export interface BundleSource {
  url: string;
  /** Sent only to this exact registry (a pinned one), never to an arbitrary source. */
  token?: string | undefined;
}

export async function fetchBundles(source: BundleSource, specs: string[]): Promise<{ bundles: Map<string, unknown>; supported: boolean }> {
  const bundles = new Map<string, unknown>();
  const chunks: string[][] = [];
  for (let i = 0; i < specs.length; i += PER_REQUEST) chunks.push(specs.slice(i, i + PER_REQUEST));
  let supported = true;
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++]!;
      const response = await request(`${source.url}/-/countersign/v1/bundles`, {
        method: "POST",
        token: source.token,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ packages: chunk }),
        accept: [404, 405],
      });
      const body = response.ok ? ((await response.json().catch(() => ({}))) as { bundles?: Record<string, unknown> }) : {};
      if (!response.ok || typeof body.bundles !== "object" || body.bundles === null) {
        supported = false;
        return;
      }
      for (const spec of chunk) if (body.bundles[spec]) bundles.set(spec, body.bundles[spec]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, chunks.length) }, worker));
  return { bundles, supported };
}

/** Bundles from `dist.countersign` of the packuments a (non-countersign) registry serves. */
export async function fetchPackumentBundles(url: string, specs: { name: string; version: string }[]): Promise<Map<string, unknown>> {
  const bundles = new Map<string, unknown>();
  const names = [...new Set(specs.map((s) => s.name))];
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++]!;
      const response = await request(`${url}/${encodeName(name)}`, { headers: { accept: "application/vnd.npm.install-v1+json" }, accept: [401, 403, 404] }).catch(() => undefined);
      if (!response?.ok) continue;
      const doc = (await response.json().catch(() => ({}))) as { versions?: Record<string, { dist?: { countersign?: unknown } }> };
      for (const spec of specs) {
        const bundle = spec.name === name ? doc.versions?.[spec.version]?.dist?.countersign : undefined;
        if (bundle) bundles.set(`${spec.name}@${spec.version}`, bundle);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, names.length) }, worker));
  return bundles;
}
