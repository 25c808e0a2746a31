/**
 * Verification throughput of already-fetched provenance: N distinct bundles (N publishers'
 * statements countersigned by one registry), verified with `verifyBundle` exactly as
 * `countersign verify` does, with the native crypto the CLI registers (node:crypto,
 * scripts/cli/native-ed25519.ts), after a warm-up. Run on one core with `taskset -c 0`.
 *
 * Beside it, the floor: the same 2N Ed25519 verifications through the same native verifier and
 * nothing else, interleaved with the verifyBundle passes so that both see the same machine load.
 *
 *   npm run bench:verify [-- N]
 */

import { nodeNativeCrypto } from "../scripts/cli/native-ed25519.js"; // registers it, as scripts/cli/main.ts does
import { artifactDigests, createSigner, openEnvelope, pae, utf8, verifyBundle, type Bundle, type Envelope } from "../src/core/index.js";
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

// The floor: one native verifier per key (as the core caches them), every message prepared
// before the timing starts, and dropped after it so that it does not weigh on the next pass.
const nativeOf = new Map([registry, ...publishers].map((signer) => [signer.keyid, nodeNativeCrypto.ed25519(signer.publicKey)]));

function nativeCheck(envelope: Envelope) {
  const opened = openEnvelope(envelope);
  const verify = "problem" in opened ? undefined : nativeOf.get(opened.keyid);
  if ("problem" in opened || !verify) throw new Error("a genuine envelope did not open");
  return { verify, message: pae(opened.payloadType, opened.payload), signature: opened.signature };
}

function floorPass(): number {
  const checks = items.flatMap(({ bundle }) => [bundle.countersignature, bundle.publisher].map(nativeCheck));
  const start = performance.now();
  for (const { verify, message, signature } of checks) if (!verify(message, signature)) throw new Error("a genuine signature failed to verify");
  return performance.now() - start;
}

await pass(items.slice(0, Math.min(500, n))); // warm-up: JIT and key caches
floorPass();
const runs: number[] = [];
const floors: number[] = [];
for (let r = 0; r < 5; r++) {
  runs.push(await pass(items));
  floors.push(floorPass());
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[2]!;
const perSecond = (ms: number) => Math.round((n / ms) * 1000);
const result = {
  packages: n,
  medianMs: Math.round(median(runs)),
  packagesPerSecond: perSecond(median(runs)),
  runsMs: [...runs].sort((a, b) => a - b).map(Math.round),
  floorPackagesPerSecond: perSecond(median(floors)),
  floorRunsMs: [...floors].sort((a, b) => a - b).map(Math.round),
  // Each pass against the floor pass right after it, which saw the same machine load.
  medianShareOfFloor: Math.round(median(runs.map((ms, i) => floors[i]! / ms)) * 1000) / 1000,
  node: process.version,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
process.stdout.write(
  `verifyBundle: ${result.packagesPerSecond} packages/s; two native Ed25519 verifications alone: ${result.floorPackagesPerSecond}/s (${(result.medianShareOfFloor * 100).toFixed(1)} % of the floor)\n`,
);
