/**
 * How packument size grows with versions × files, against a local Worker.
 *
 *   npm run bench:packument [-- --files 1,100,5000 --versions 1,10,100,1000]
 *
 * The Worker (dist/worker.mjs in workerd via Miniflare, 127.0.0.1, in-memory D1 and R2; started
 * by test/helpers/registry.ts) gets one package per file count, `@acme/files-<F>`: a real npm
 * tarball of F files (package.json plus F − 1 small modules under lib/), signed the way
 * `countersign publish` signs npm packages (the per-file digest list in `attributes.files`) and
 * published over the native route, versions 1.0.0, 1.0.1, … 8 at a time (2 at a time for 1,000
 * files and more). At each version count
 * V in the list, it fetches both packuments:
 *
 *   - abbreviated (`Accept: application/vnd.npm.install-v1+json`, what installers fetch), and
 *   - full (`Accept: application/json`, what mirrors copy),
 *
 * and reports their size in bytes, per version, and gzipped (Cloudflare compresses on the wire),
 * plus the time of the first abbreviated request after the last publish (built from D1) and the
 * median of 5 repeats (served from the edge cache). 5,000 files × 1,000 versions is skipped: its
 * full packument would be ≈ 700 MB, far over a Worker's 128 MB of memory. Last, it publishes a
 * package with bench/install.ts's `@acme/bench-0` package.json and four files, whose abbreviated
 * packument Verdaccio 6.8.0 serves in 811 B (measured by `npm run bench:install`), and compares.
 *
 * Bundled to dist/bench/packument-size.mjs (two directories below the repository root, where
 * test/helpers/paths.ts expects it); `npm run bench:packument` rebuilds dist/ first.
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { ABBREVIATED_TYPE, bufferSource } from "../src/core/index.js";
import { adminApi } from "../test/helpers/actors.js";
import { ROOT } from "../test/helpers/paths.js";
import { encodeName, fileDigests, newPublisher, signedParts, uploadBody, type Publisher } from "../test/helpers/publisher.js";
import { startRegistry, type TestRegistry } from "../test/helpers/registry.js";
import { gzipTar } from "../test/helpers/tarball.js";

const CONCURRENCY = 8;
/** Cells left out: their full packument cannot be built inside a Worker's memory. */
const SKIP = new Set(["5000x1000"]);

function listArg(flag: string, fallback: number[]): number[] {
  const at = process.argv.indexOf(flag);
  if (at === -1) return fallback;
  const values = (process.argv[at + 1] ?? "").split(",").map(Number);
  if (!values.length || values.some((v) => !Number.isInteger(v) || v < 1 || v > 10_000)) {
    process.stderr.write(`usage: npm run bench:packument [-- --files 1,100,5000 --versions 1,10,100,1000]\n`);
    process.exit(2);
  }
  return [...new Set(values)].sort((a, b) => a - b);
}

const FILES = listArg("--files", [1, 100, 5000]);
const VERSIONS = listArg("--versions", [1, 10, 100, 1000]);

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

/** Verdaccio 6.8.0's abbreviated packument of bench/install.ts's `@acme/bench-0` (measured by `npm run bench:install`). */
const VERDACCIO_BENCH_0_BYTES = 811;

/** bench/install.ts's `@acme/bench-0@1.0.0`: the same package.json (all an abbreviated packument reads of it) and its four files. */
function bench0Tarball(): Promise<Uint8Array> {
  const manifest = { name: "@acme/bench-0", version: "1.0.0", description: "benchmark package 0", main: "index.js", license: "MIT" };
  return gzipTar([
    { name: "package/package.json", data: `${JSON.stringify(manifest, null, 2)}\n` },
    { name: "package/index.js", data: `"use strict";\nmodule.exports = require("./data.js");\n` },
    { name: "package/data.js", data: `"use strict";\nmodule.exports = ${JSON.stringify("x".repeat(2048))};\n` },
    { name: "package/README.md", data: `# @acme/bench-0\n\n${"Generated for the countersign install benchmark. ".repeat(30)}\n` },
  ]);
}

/** package.json (shaped like bench/install.ts's packages) plus files − 1 small modules. */
function tarball(name: string, version: string, files: number): Promise<Uint8Array> {
  const manifest = { name, version, description: `packument size benchmark, ${files} files`, main: "index.js", license: "MIT" };
  const members = [{ name: "package/package.json", data: `${JSON.stringify(manifest, null, 2)}\n` }];
  for (let i = 1; i < files; i++) members.push({ name: `package/lib/file-${i}.js`, data: `module.exports = ${i};\n` });
  return gzipTar(members);
}

/** Publishes one version; a connection reset under load is retried (409 then means the first attempt committed). */
async function publish(registry: TestRegistry, publisher: Publisher, token: string, name: string, version: string, files: number, made?: Uint8Array): Promise<void> {
  const bytes = made ?? (await tarball(name, version, files));
  const parts = await signedParts(publisher, name, version, bytes, { attributes: { files: await fileDigests(bytes) } });
  const body = await uploadBody(parts);
  for (let attempt = 1; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(`${registry.url}/-/countersign/v1/packages/${encodeName(name)}/${version}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/x-tar" },
        body: bufferSource(body),
      });
    } catch (err) {
      if (attempt >= 3) throw err;
      continue;
    }
    const text = await response.text();
    if (response.status === 201 || (attempt > 1 && response.status === 409)) return;
    throw new Error(`publish ${name}@${version}: ${response.status} ${text.slice(0, 300)}`);
  }
}

async function get(registry: TestRegistry, name: string, accept: string): Promise<{ bytes: Uint8Array; ms: number }> {
  const started = performance.now();
  const response = await fetch(`${registry.url}/${encodeName(name)}`, { headers: { accept } });
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (response.status !== 200) throw new Error(`GET ${name} (${accept}): ${response.status} ${new TextDecoder().decode(bytes.slice(0, 300))}`);
  return { bytes, ms: performance.now() - started };
}

interface Row {
  files: number;
  versions: number;
  abbreviated: number;
  abbreviatedGzip: number;
  full: number | null;
  fullGzip: number | null;
  firstMs: number;
  cachedMs: number;
}

async function measure(registry: TestRegistry, name: string, files: number, versions: number): Promise<Row> {
  const first = await get(registry, name, ABBREVIATED_TYPE);
  const repeats: number[] = [];
  for (let i = 0; i < 5; i++) repeats.push((await get(registry, name, ABBREVIATED_TYPE)).ms);
  let full: Uint8Array | null = null;
  try {
    full = (await get(registry, name, "application/json")).bytes;
  } catch (err) {
    log(`full packument of ${name} at ${versions} versions: ${(err as Error).message.slice(0, 200)}`);
  }
  return {
    files,
    versions,
    abbreviated: first.bytes.length,
    abbreviatedGzip: gzipSync(first.bytes).length,
    full: full?.length ?? null,
    fullGzip: full ? gzipSync(full).length : null,
    firstMs: first.ms,
    cachedMs: median(repeats),
  };
}

const bytes = (n: number | null) => (n === null ? "—" : n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : n >= 10 * 1024 ? `${(n / 1024).toFixed(0)} KiB` : `${n.toLocaleString("en-US")} B`);

const HEADER = [
  "| files | versions | abbreviated | per version | gzipped | full | per version | gzipped | abbreviated: first / cached |",
  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
].join("\n");

const line = (r: Row) =>
  `| ${r.files.toLocaleString("en-US")} | ${r.versions.toLocaleString("en-US")} | ${bytes(r.abbreviated)} | ${bytes(Math.round(r.abbreviated / r.versions))} | ${bytes(r.abbreviatedGzip)} | ${bytes(r.full)} | ${r.full === null ? "—" : bytes(Math.round(r.full / r.versions))} | ${bytes(r.fullGzip)} | ${r.firstMs.toFixed(0)} ms / ${r.cachedMs.toFixed(1)} ms |`;

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, "dist", "worker.mjs"))) throw new Error("dist/ is not built: run `node scripts/build.mjs` (npm run bench:packument does)");
  const registry = await startRegistry({ name: "bench-packument" });
  const stop = () => registry.stop().catch(() => undefined);
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => void stop().then(() => process.exit(130)));
  try {
    log(`countersign at ${registry.url}`);
    const publisher = await newPublisher();
    await adminApi(registry, "POST", "/namespaces", { namespace: "@acme" });
    await adminApi(registry, "POST", `/namespaces/${encodeURIComponent("@acme")}/keys`, { publicKey: publisher.publicKey });
    const { token } = (await adminApi(registry, "POST", "/tokens", { scope: "publish", namespaces: ["@acme"] })) as { token: string };

    const rows: Row[] = [];
    for (const files of FILES) {
      const name = `@acme/files-${files}`;
      let published = 0;
      for (const versions of VERSIONS) {
        if (SKIP.has(`${files}x${versions}`)) {
          log(`skipping ${files} files × ${versions} versions`);
          continue;
        }
        const started = performance.now();
        const next = Array.from({ length: versions - published }, (_, i) => `1.0.${published + i}`);
        await pool(next, files >= 1000 ? 2 : CONCURRENCY, (version) => publish(registry, publisher, token, name, version, files));
        published = versions;
        log(`${name}: ${versions} versions published (+${next.length} in ${((performance.now() - started) / 1000).toFixed(1)} s)`);
        const row = await measure(registry, name, files, versions);
        process.stdout.write(`${rows.length === 0 ? `${HEADER}\n` : ""}${line(row)}\n`);
        rows.push(row);
      }
    }

    await publish(registry, publisher, token, "@acme/bench-0", "1.0.0", 4, await bench0Tarball());
    const abbreviated = (await get(registry, "@acme/bench-0", ABBREVIATED_TYPE)).bytes.length;
    const full = (await get(registry, "@acme/bench-0", "application/json")).bytes.length;
    process.stdout.write(
      `\nbench/install.ts's @acme/bench-0@1.0.0 (4 files): abbreviated ${bytes(abbreviated)} (${(abbreviated / VERDACCIO_BENCH_0_BYTES).toFixed(2)}× Verdaccio 6.8.0's ${VERDACCIO_BENCH_0_BYTES} B), full ${bytes(full)}\n`,
    );
  } finally {
    await stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}${err instanceof Error && err.cause ? `\ncause: ${String(err.cause)}` : ""}\n`);
  process.exit(1);
});
