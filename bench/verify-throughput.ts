/**
 * Verification throughput of already-fetched provenance: N distinct bundles (N publishers'
 * statements countersigned by one registry), verified with `verifyBundle` exactly as
 * `countersign verify` does, after a warm-up. Run on one core with `taskset -c 0`.
 *
 *   npm run bench:verify [-- N]
 */

import { artifactDigests, createSigner, utf8, verifyBundle, type Bundle } from "../src/core/index.js";
import { makeBundle } from "../test/helpers/bundles.js";

const n = Number(process.argv[2] ?? 5000);
const registry = await createSigner(new Uint8Array(32).fill(1));
const publishers = await Promise.all(Array.from({ length: 20 }, (_, i) => createSigner(new Uint8Array(32).fill(i + 2))));

process.stdout.write(`preparing ${n} bundles…\n`);
const items: { name: string; version: string; sha512: string; bundle: Bundle }[] = [];
for (let i = 0; i < n; i++) {
  const name = `@acme/pkg-${i}`;
  const bytes = utf8(`package ${i} contents`);
  const made = await makeBundle({ publisher: publishers[i % publishers.length]!, registry, name, version: "1.0.0", bytes, sequence: i + 1 });
  // Round-trip through JSON, as bundles arrive from the network.
  items.push({ name, version: "1.0.0", sha512: (await artifactDigests(bytes)).sha512, bundle: JSON.parse(JSON.stringify(made.bundle)) as Bundle });
}

async function pass(list: typeof items): Promise<number> {
  const start = performance.now();
  const results = await Promise.all(list.map((it) => verifyBundle({ name: it.name, version: it.version, artifact: { sha512: it.sha512 }, bundle: it.bundle, pinned: [registry.keyid] })));
  const elapsed = performance.now() - start;
  if (results.some((r) => !r.ok)) throw new Error("a genuine bundle failed to verify");
  return elapsed;
}

await pass(items.slice(0, Math.min(500, n))); // warm-up: JIT and key caches
const runs = [];
for (let r = 0; r < 5; r++) runs.push(await pass(items));
runs.sort((a, b) => a - b);
const median = runs[2]!;
const result = { packages: n, medianMs: Math.round(median), packagesPerSecond: Math.round((n / median) * 1000), runsMs: runs.map(Math.round), node: process.version };
process.stdout.write(`${JSON.stringify(result)}\n`);
