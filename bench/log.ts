/**
 * @module
 * `npm run bench:log`: the transparency log under publishing load, on `npm start`'s server
 * (workerd configured by Miniflare, the LogSequencer Durable Object, storage on disk).
 *
 *   npm run bench:log [-- N]      (default 600 publishes per concurrency level)
 *
 * 1. Publish-to-checkpoint latency: a publish answers only once a checkpoint covering its
 *    sequence number is published (its tlog-proof is in the answer), so the publish's latency is
 *    the time from upload to checkpoint. p50 and p99 at 1, 8 and 32 concurrent publishers, of
 *    small artifacts (the log's work does not depend on artifact size).
 * 2. Throughput: publishes per second at each level, end to end (upload, countersign, D1
 *    commit, log round), and the number of checkpoints written (rounds that published), which
 *    shows how many publishes each round of the one sequencer carried.
 * 3. Every answer's tlog-proof verifies against the registry's key; a pending one is counted.
 * 4. The sequencer alone: SEQUENCER_ENTRIES (default 20,000) versions committed straight into D1
 *    of a registry in workerd (test/helpers/registry.ts), then the Durable Object's rounds are
 *    run back to back until every entry is in a checkpoint and every bundle has its proof:
 *    entries integrated per second, which bounds the publishes per second one sequencer sustains.
 * Results: a markdown table on stdout and bench/results/log.json.
 */

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { bufferSource, countersignatureEntry, toBase64, fromBase64, logOrigin, logVerifier, utf8, verifyTlogProof, type Bundle } from "../src/core/index.js";
import { adminApi } from "../test/helpers/actors.js";
import { ROOT } from "../test/helpers/paths.js";
import { encodeName, newPublisher, signedParts, uploadBody } from "../test/helpers/publisher.js";
import { startRegistry } from "../test/helpers/registry.js";
import { startLocalServer } from "./lib/countersign.js";
import { cleanup, cleanups, log, median, pool, runBenchmark } from "./lib/util.js";

const N = Number(process.argv[2] ?? 600);
const SEQUENCER_ENTRIES = Number(process.env.SEQUENCER_ENTRIES ?? 20_000);
const LEVELS = [1, 8, 32];
const RUN = join(ROOT, "bench", ".work", "log");

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

interface Level {
  concurrency: number;
  publishes: number;
  seconds: number;
  perSecond: number;
  p50ms: number;
  p99ms: number;
  maxMs: number;
  checkpoints: number;
  pending: number;
}

await runBenchmark(async () => {
  rmSync(RUN, { recursive: true, force: true });
  mkdirSync(RUN, { recursive: true });
  const server = await startLocalServer(join(RUN, "state"));
  cleanups.push(() => server.stop());
  const envelope = (await (await fetch(`${server.url}/.well-known/countersign.json`)).json()) as { payload: string };
  const identity = JSON.parse(new TextDecoder().decode(fromBase64(envelope.payload)!)) as { keys: { publicKey: string }[] };
  const verifier = await logVerifier(server.url, fromBase64(identity.keys[0]!.publicKey)!);
  if (!verifier.ok) throw new Error(verifier.error);

  const publisher = await newPublisher();
  await adminApi(server, "POST", "/namespaces", { namespace: "@bench" });
  await adminApi(server, "POST", `/namespaces/${encodeURIComponent("@bench")}/keys`, { publicKey: publisher.publicKey });
  const { token } = (await adminApi(server, "POST", "/tokens", { scope: "publish", namespaces: ["@bench"] })) as { token: string };

  const levels: Level[] = [];
  for (const concurrency of LEVELS) {
    // Bodies signed beforehand: the measurement is the registry's, not the publisher's signing.
    const jobs = await Promise.all(
      Array.from({ length: N }, async (_, i) => {
        const name = `@bench/c${concurrency}-${i % 50}`;
        const version = `1.0.${Math.floor(i / 50)}`;
        return { name, version, body: await uploadBody(await signedParts(publisher, name, version, utf8(`log bench ${name}@${version}`))) };
      }),
    );
    const latencies: number[] = [];
    const checkpoints = new Set<number>();
    let pending = 0;
    log(`${N} publishes, ${concurrency} at a time`);
    const start = performance.now();
    await pool(jobs, concurrency, async (job) => {
      const sent = performance.now();
      const response = await fetch(`${server.url}/-/countersign/v1/packages/${encodeName(job.name)}/${job.version}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/x-tar" },
        body: bufferSource(job.body),
      });
      const answer = (await response.json()) as { tlogProof?: string; logPending?: boolean; bundle: Bundle };
      latencies.push(performance.now() - sent);
      if (response.status !== 201) throw new Error(`publish ${job.name}@${job.version}: ${response.status} ${JSON.stringify(answer)}`);
      if (!answer.tlogProof) {
        pending++;
        return;
      }
      const entry = countersignatureEntry(answer.bundle.countersignature);
      const proved = entry.ok && (await verifyTlogProof(answer.tlogProof, entry.value, { origin: logOrigin(server.url), verifier: verifier.value }));
      if (!proved || !proved.ok) throw new Error(`publish ${job.name}@${job.version}: its tlog-proof does not verify`);
      checkpoints.add(proved.value.checkpoint.size);
    });
    const seconds = (performance.now() - start) / 1000;
    latencies.sort((a, b) => a - b);
    levels.push({
      concurrency,
      publishes: N,
      seconds,
      perSecond: N / seconds,
      p50ms: median(latencies),
      p99ms: percentile(latencies, 99),
      maxMs: latencies.at(-1)!,
      checkpoints: checkpoints.size,
      pending,
    });
  }
  await cleanup();
  const sequencer = await sequencerAlone();

  const machine = `${availableParallelism()} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}`;
  const table = [
    `Transparency log under publishing load (${machine}); npm start, one LogSequencer Durable Object.`,
    "",
    "| concurrent publishers | publishes | publishes/s | publish-to-checkpoint p50 | p99 | max | distinct checkpoints in answers | pending |",
    "|---|---|---|---|---|---|---|---|",
    ...levels.map((l) => `| ${l.concurrency} | ${l.publishes} | ${l.perSecond.toFixed(0)} | ${l.p50ms.toFixed(0)} ms | ${l.p99ms.toFixed(0)} ms | ${l.maxMs.toFixed(0)} ms | ${l.checkpoints} | ${l.pending} |`),
    "",
    `The sequencer alone: ${sequencer.entries} committed versions integrated in ${sequencer.rounds} rounds: ${sequencer.publishedPerSecond.toFixed(0)} entries/s into checkpoints, ${sequencer.provedPerSecond.toFixed(0)} entries/s with every bundle's proof written.`,
  ].join("\n");
  process.stdout.write(`${table}\n`);
  mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
  writeFileSync(join(ROOT, "bench", "results", "log.json"), `${JSON.stringify({ machine, levels, sequencer }, null, 2)}\n`);
});

/** Commits SEQUENCER_ENTRIES versions straight into D1, then times the sequencer's rounds over them. */
async function sequencerAlone() {
  const registry = await startRegistry();
  cleanups.push(() => registry.stop());
  const db = await registry.mf.getD1Database("DB");
  const namespace = await registry.mf.getDurableObjectNamespace("LOG");
  const stub = namespace.get(namespace.idFromName("log")) as unknown as { sync(): Promise<{ published: number; proved: number }> };
  await stub.sync(); // genesis
  log(`committing ${SEQUENCER_ENTRIES} versions into D1`);
  const padding = "x".repeat(900); // a countersignature payload is ~1.1 KB
  const insert = db.prepare("INSERT INTO versions (name, version, namespace, sequence, size, sha256, sha512, sha1, publisher_keyid, bundle, manifest, published_at, deprecated) VALUES (?, '1.0.0', '@s', ?, 1, 'a', ?, 'a', 'k', ?, NULL, '2026-11-26T00:00:00.000Z', NULL)");
  for (let lo = 1; lo <= SEQUENCER_ENTRIES; lo += 500) {
    const statements = [];
    for (let i = lo; i < Math.min(lo + 500, SEQUENCER_ENTRIES + 1); i++) {
      const payload = toBase64(utf8(JSON.stringify({ predicate: { name: `@s/p${i}`, sequence: i }, padding })));
      statements.push(insert.bind(`@s/p${i}`, i, `sha512-${i}`, JSON.stringify({ countersignature: { payload } })));
    }
    await db.batch(statements);
  }
  log("running the sequencer's rounds");
  const start = performance.now();
  let rounds = 0;
  let publishedAt = 0;
  for (;;) {
    const state = await stub.sync();
    rounds++;
    const published = Number(state.published);
    if (published === SEQUENCER_ENTRIES + 1 && !publishedAt) publishedAt = performance.now();
    if (Number(state.proved) === SEQUENCER_ENTRIES + 1) break;
    if (rounds > 10_000) throw new Error("the sequencer stopped making progress");
  }
  const end = performance.now();
  return {
    entries: SEQUENCER_ENTRIES,
    rounds,
    publishedPerSecond: SEQUENCER_ENTRIES / ((publishedAt - start) / 1000),
    provedPerSecond: SEQUENCER_ENTRIES / ((end - start) / 1000),
  };
}
