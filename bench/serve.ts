/**
 * @module
 * `npm run bench:serve`: the registry server under load, side by side with Verdaccio 6.8 in one
 * run. countersign is `npm start`'s server (dist/start.mjs: workerd configured by Miniflare, storage on
 * disk); Verdaccio has local storage, no uplinks. Both get the same N packages (default 200).
 *
 *   npm run bench:serve [-- N [SECONDS [ROUNDS]]]     (default 200 packages, 10 s, 3 rounds)
 *
 * 1. Throughput and latency: 16 keep-alive connections (bench/load.ts, its own process) GET
 *    tarballs, then abbreviated packuments (npm's Accept header), cycling through the N
 *    packages; SECONDS per measurement after a warm-up, ROUNDS rounds alternating which server
 *    goes first. Medians of req/s and p99 over the rounds.
 * 2. Memory: RSS of each server's whole process tree idle, then sampled every second under 60 s
 *    of mixed load (tarballs and packuments); growth from second 10 to 60 says whether it is flat.
 * 3. A markdown table on stdout and bench/results/serve-<N>.json.
 */

import { spawn } from "node:child_process";
import { mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { join } from "node:path";
import { ROOT } from "../test/helpers/paths.js";
import { publishToCountersign, startLocalServer } from "./lib/countersign.js";
import { benchNames, makeTarballs } from "./lib/packages.js";
import { cleanup, cleanups, log, median, rssBytes, runBenchmark } from "./lib/util.js";
import { ensureVerdaccio, publishToVerdaccio, startVerdaccio, stopChild, VERDACCIO_VERSION } from "./lib/verdaccio.js";

const n = Number(process.argv[2] ?? 200);
const SECONDS = Number(process.argv[3] ?? 10);
const ROUNDS = Number(process.argv[4] ?? 3);
const CONNECTIONS = 16;
const MEMORY_SECONDS = Number(process.env.BENCH_MEMORY_SECONDS ?? 60);
const WORK = join(ROOT, "bench", ".work");
const RUN = join(WORK, "serve");
const ABBREVIATED = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*";

interface LoadResult {
  requests: number;
  non2xx: number;
  errors: number;
  bytes: number;
  seconds: number;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}
type Target = { path: string; accept?: string };

const names = benchNames(n);
const tarballTargets: Target[] = names.map((name) => ({ path: `/${name}/-/${name.split("/")[1]}-1.0.0.tgz` }));
const packumentTargets: Target[] = names.map((name) => ({ path: `/${name.replace("/", "%2f")}`, accept: ABBREVIATED }));
const mixedTargets: Target[] = names.flatMap((_, i) => [packumentTargets[i]!, tarballTargets[i]!]);

/** Runs bench/load.ts against `origin`; calls `sample` every second while it runs. */
function load(origin: string, targets: Target[], seconds: number, sample?: () => void): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "dist", "bench", "load.mjs"), JSON.stringify({ origin, targets, connections: CONNECTIONS, durationMs: seconds * 1000 })], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    const timer = sample ? setInterval(sample, 1000) : undefined;
    child.on("close", (code) => {
      clearInterval(timer);
      if (code !== 0) return reject(new Error(`load generator exited ${code}`));
      const result = JSON.parse(out) as LoadResult;
      if (result.errors || result.non2xx) return reject(new Error(`${origin}: ${result.errors} errors, ${result.non2xx} non-2xx responses under load`));
      resolve(result);
    });
  });
}

async function main(): Promise<void> {
  const loadAtStart = loadavg()[0]!;
  if (loadAtStart > 0.5) log(`note: 1-minute load average is ${loadAtStart.toFixed(2)} before starting: other work on this machine will add noise`);
  rmSync(RUN, { recursive: true, force: true });
  mkdirSync(RUN, { recursive: true });
  const verdaccioBin = await ensureVerdaccio(join(WORK, "verdaccio"));
  log(`packing ${n} packages…`);
  const tarballs = await makeTarballs(RUN, n);

  const countersign = await startLocalServer(join(RUN, "countersign-state"));
  cleanups.push(() => countersign.stop());
  const verdaccio = await startVerdaccio(RUN, verdaccioBin);
  cleanups.push(() => stopChild(verdaccio.child));
  const servers = {
    countersign: { url: countersign.url, pid: countersign.child.pid! },
    verdaccio: { url: verdaccio.url, pid: verdaccio.child.pid! },
  };
  type Label = keyof typeof servers;
  const labels: Label[] = ["countersign", "verdaccio"];
  log(`countersign at ${countersign.url}, Verdaccio ${VERDACCIO_VERSION} at ${verdaccio.url}`);
  await publishToCountersign(countersign, tarballs, 8);
  await publishToVerdaccio(verdaccio.url, tarballs, 8);
  log(`published ${n} packages to each`);

  const idleRss: Record<Label, number> = { countersign: rssBytes(servers.countersign.pid), verdaccio: rssBytes(servers.verdaccio.pid) };
  for (const label of labels) for (const targets of [tarballTargets, packumentTargets]) await load(servers[label].url, targets, 3);

  const kinds = { tarball: tarballTargets, packument: packumentTargets } as const;
  type Kind = keyof typeof kinds;
  const results: Record<Kind, Record<Label, LoadResult[]>> = { tarball: { countersign: [], verdaccio: [] }, packument: { countersign: [], verdaccio: [] } };
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of Object.keys(kinds) as Kind[]) {
      for (const label of round % 2 ? [...labels].reverse() : labels) {
        const result = await load(servers[label].url, kinds[kind], SECONDS);
        results[kind][label].push(result);
        log(`round ${round + 1} ${kind} ${label}: ${result.rps} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms`);
      }
    }
  }

  const memory = {} as Record<Label, { idle: number; at10: number; at60: number; max: number; samples: number[] }>;
  for (const label of labels) {
    const samples: number[] = [];
    await load(servers[label].url, mixedTargets, MEMORY_SECONDS, () => samples.push(rssBytes(servers[label].pid)));
    memory[label] = { idle: idleRss[label], at10: samples[9] ?? NaN, at60: samples.at(-1) ?? NaN, max: Math.max(...samples), samples };
    log(`memory ${label}: idle ${mb(idleRss[label])}, 10 s ${mb(memory[label].at10)}, ${MEMORY_SECONDS} s ${mb(memory[label].at60)}, max ${mb(memory[label].max)}`);
  }
  await cleanup();

  const summary = (kind: Kind, label: Label) => ({ rps: median(results[kind][label].map((r) => r.rps)), p99: median(results[kind][label].map((r) => r.p99)), p50: median(results[kind][label].map((r) => r.p50)) });
  const result = {
    benchmark: "serve",
    date: new Date().toISOString(),
    packages: n,
    connections: CONNECTIONS,
    secondsPerMeasurement: SECONDS,
    rounds: ROUNDS,
    machine: { cores: availableParallelism(), cpu: cpus()[0]?.model ?? "unknown", node: process.version, loadAverage1m: { atStart: Number(loadAtStart.toFixed(2)), atEnd: Number(loadavg()[0]!.toFixed(2)) } },
    registries: { countersign: "npm start (dist/start.mjs): workerd configured by Miniflare, D1 and R2 persisted on disk", verdaccio: `Verdaccio ${VERDACCIO_VERSION}, local storage, uplinks: {}` },
    throughput: { tarball: { countersign: summary("tarball", "countersign"), verdaccio: summary("tarball", "verdaccio") }, packument: { countersign: summary("packument", "countersign"), verdaccio: summary("packument", "verdaccio") } },
    runs: results,
    memory,
  };
  mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
  const out = join(ROOT, "bench", "results", `serve-${n}.json`);
  writeFileSync(`${out}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  renameSync(`${out}.tmp`, out);

  const t = result.throughput;
  const row = (label: string, kind: Kind) =>
    `| ${label}, req/s (p50 / p99 ms) | ${t[kind].countersign.rps} (${t[kind].countersign.p50} / ${t[kind].countersign.p99}) | ${t[kind].verdaccio.rps} (${t[kind].verdaccio.p50} / ${t[kind].verdaccio.p99}) | ${(t[kind].countersign.rps / t[kind].verdaccio.rps).toFixed(2)}× req/s, ${(t[kind].countersign.p99 / t[kind].verdaccio.p99).toFixed(2)}× p99 |`;
  const mem = (label: Label) => `${mb(memory[label].idle)} → ${mb(memory[label].at10)} (10 s) → ${mb(memory[label].at60)} (${MEMORY_SECONDS} s), max ${mb(memory[label].max)}`;
  process.stdout.write(
    [
      `## Serving ${n} packages, ${CONNECTIONS} connections (medians of ${ROUNDS} rounds of ${SECONDS} s)`,
      ``,
      `| | countersign (npm start) | Verdaccio ${VERDACCIO_VERSION} | countersign / Verdaccio |`,
      `|---|---:|---:|---:|`,
      row("tarball GET", "tarball"),
      row("abbreviated packument GET", "packument"),
      `| RSS of the server's process tree, idle → mixed load | ${mem("countersign")} | ${mem("verdaccio")} | ${(memory.countersign.max / memory.verdaccio.max).toFixed(2)}× max |`,
      ``,
      `Node ${process.version} · ${result.machine.cores} cores (${result.machine.cpu}) · load average ${result.machine.loadAverage1m.atStart} at start, ${result.machine.loadAverage1m.atEnd} at end`,
      `Results: ${out.slice(ROOT.length + 1)}`,
      ``,
    ].join("\n"),
  );
}

function mb(bytes: number): string {
  return `${Math.round(bytes / 1048576)} MB`;
}

await runBenchmark(main);
