/**
 * @module
 * `npm run bench:verify-log`: what checking the transparency log adds to verifying a 1,000-package
 * lockfile, in one process on one core, side by side in the same run:
 *
 *   verify only   core verifyBundle of N bundles (the two native Ed25519 checks each: the floor)
 *   verify + log  the same, then the client's log check of all N (scripts/cli/log/check.ts):
 *                 each bundle's tlog-proof (against the latest checkpoint of a 100,000-entry log,
 *                 as the batch route serves them; CHECKPOINTS=3: spread over 3), the log's current
 *                 checkpoint fetched and the view proved consistent from its tiles, served by a
 *                 fake log in another process on the other core
 *
 * Twice: with a fresh state directory every run (a CI runner that keeps nothing), and with the
 * state kept between runs (a developer's machine, or CI with COUNTERSIGN_LOG_STATE_DIR cached).
 *
 *   npm run bench:verify-log [-- N ENTRIES]     (default 1000 bundles, 100000 log entries)
 */

import "../scripts/cli/native-ed25519.js";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleLogItem, checkLog, type LogItem } from "../scripts/cli/log/check.js";
import { LogReader } from "../scripts/cli/log/reader.js";
import { checkpointStore } from "../scripts/cli/log/store.js";
import { gapEntry, utf8, verifyBundle, type Bundle } from "../src/core/index.js";
import { LogTree, publisherKey, registryKey, startFakeLog, withProof } from "../test/helpers/fake-log.js";

const n = Number(process.argv[2] ?? 1000);
const entries = Number(process.argv[3] ?? 100_000);
const serving = process.argv[4] === "serve";
const ORIGIN = "http://bench.test";

// The same log is built in both processes (deterministic keys): this one serves it when asked to.
const registry = await registryKey();
const publishers = await Promise.all(Array.from({ length: 20 }, (_, i) => publisherKey(i + 2)));
const tree = new LogTree(ORIGIN, registry);
await tree.genesis();
const made: { name: string; sha512: string; bundle: Bundle; index: number }[] = [];
for (let i = 0; i < n; i++) {
  const name = `@acme/pkg-${i}`;
  const published = await tree.publish(name, "1.0.0", publishers[i % 20]!, utf8(`package ${i} contents`));
  made.push({ name, sha512: published.sha512, bundle: published.bundle, index: published.index });
  for (let f = 0; f < Math.floor(entries / n / 2); f++) await tree.append(gapEntry(tree.size)); // spread the indexes
}
while (tree.size < entries) await tree.append(gapEntry(tree.size));
// As the batch route serves them (PROTOCOL §11): every proof against the latest checkpoint; or, with
// CHECKPOINTS=3, against 3 (as stored bundles and mirrors' packuments carry them, one per publish round).
const sizes = process.env.CHECKPOINTS === "3" ? [Math.floor(entries * 0.6), Math.floor(entries * 0.8), entries] : [entries];
const checkpoints = await Promise.all(sizes.map((s) => tree.checkpoint(s)));

if (serving) {
  const server = await startFakeLog();
  await server.serve(tree);
  process.stdout.write(`URL ${server.url}\n`);
  await new Promise(() => undefined);
}

const child = spawn("taskset", ["-c", "1", process.execPath, process.argv[1]!, String(n), String(entries), "serve"], { stdio: ["ignore", "pipe", "inherit"] });
process.on("exit", () => child.kill());
const base = await new Promise<string>((resolve) => {
  let out = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d;
    const m = /URL (\S+)/.exec(out);
    if (m) resolve(m[1]!);
  });
});

// Each bundle's proof is against one of the 3 checkpoints that cover it (as published at different times).
const items: { name: string; sha512: string; bundle: Bundle & { tlogProof: string }; index: number }[] = [];
for (const m of made) {
  const covering = sizes.map((s, k) => [s, k] as const).filter(([s]) => s > m.index);
  const [size, k] = covering[m.index % covering.length]!;
  items.push({ ...m, bundle: JSON.parse(JSON.stringify(withProof(m.bundle, await tree.tlogProof(m.index, size, checkpoints[k]!)))) });
}

async function verifyAll() {
  const results = await Promise.all(items.map((it) => verifyBundle({ name: it.name, version: "1.0.0", artifact: { sha512: it.sha512 }, bundle: it.bundle, pinned: [registry.keyid] })));
  if (results.some((r) => !r.ok)) throw new Error("a bundle did not verify");
  return results;
}

async function verifyAndLog(stateDir: string) {
  const results = await verifyAll();
  const reader = await LogReader.create({ base, registryOrigin: ORIGIN, publicKey: registry.publicKey });
  if (!reader.ok) throw new Error(reader.error);
  const logItems: LogItem[] = items.map((it, i) => bundleLogItem(it.bundle, (results[i] as { value: { sequence: number } }).value.sequence, it.name));
  const result = await checkLog(reader.value, registry.keyid, checkpointStore(stateDir), logItems);
  if (result.group || result.items.some((o) => !o?.ok)) throw new Error(`log check failed: ${JSON.stringify(result.group ?? result.items.find((o) => !o?.ok))}`);
}

const time = async (f: () => Promise<unknown>) => {
  const start = performance.now();
  await f();
  return performance.now() - start;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const RUNS = 9;
const kept = mkdtempSync(join(tmpdir(), "countersign-bench-log-"));
await verifyAll();
await verifyAndLog(kept);
const only: number[] = [];
const fresh: number[] = [];
const persisted: number[] = [];
for (let r = 0; r < RUNS; r++) {
  only.push(await time(verifyAll));
  fresh.push(await time(() => verifyAndLog(mkdtempSync(join(tmpdir(), "countersign-bench-log-")))));
  persisted.push(await time(() => verifyAndLog(kept)));
}
const rate = (ms: number) => Math.round((n / ms) * 1000);
const share = (ms: number) => `+${((ms / median(only) - 1) * 100).toFixed(1)} %`;
process.stdout.write(
  [
    `${n} bundles, a log of ${tree.size} entries, proofs against ${sizes.length} checkpoint${sizes.length === 1 ? "" : "s"}; medians of ${RUNS} alternated runs, Node ${process.version}`,
    "",
    "| | ms | packages/s | log's share |",
    "|---|---|---|---|",
    `| verify only | ${median(only).toFixed(0)} | ${rate(median(only))} | |`,
    `| verify + log, state kept | ${median(persisted).toFixed(0)} | ${rate(median(persisted))} | ${share(median(persisted))} |`,
    `| verify + log, fresh state | ${median(fresh).toFixed(0)} | ${rate(median(fresh))} | ${share(median(fresh))} |`,
    "",
  ].join("\n"),
);
process.exit(0);
