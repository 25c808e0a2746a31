/**
 * @module
 * Fetching provenance bundles in bulk: `POST <registry>/-/countersign/v1/bundles` with up to
 * 1000 name@versions per request, a few requests in flight. A registry that does not speak the
 * countersign API (404) simply has no provenance to offer.
 */

import { request } from "./http.js";

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
