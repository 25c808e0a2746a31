/**
 * Scale on paper, checked by simulation: the arithmetic behind docs/SCALE.md.
 *
 *   npm run bench:scale
 *
 * What would it take to serve npm-like load (millions of packages, tens of thousands of publishes
 * a day, tens of billions of downloads a week) on Workers, D1 and R2? Three steps, each printed
 * as the tables SCALE.md quotes:
 *
 *   1. Calibrate on the real code: provenance bundles signed by src/core (the bytes a version row
 *      stores), inserted into a local D1 (Miniflare's SQLite, 127.0.0.1, in memory) with the
 *      repository's migrations, to read the bytes per version, rows written and rows read.
 *   2. Sample a registry: packages with heavy-tailed version counts, namespaces (unscoped names,
 *      scopes, a few very large ones), Zipf-Mandelbrot popularity, hashed onto D1 shards.
 *   3. Model reads and writes: edge-cache hit ratios per tier (analytic, and one colo simulated
 *      request by request as a check), the D1 load of the hottest shard, the monthly bill.
 *
 * Deterministic (one seeded PRNG; Ed25519 signatures are deterministic; SQLite's page count is
 * a function of the inserts), no network, ≈ 20 s. Every input is in WORKLOAD, CACHE, COST or
 * LIMITS below with its source; "assumption" marks the ones no public figure backs.
 */

import { Miniflare } from "miniflare";
import { artifactDigests, createSigner, signPublishStatement, utf8, type Attributes } from "../src/core/index.js";
import { registryCountersign } from "../test/helpers/bundles.js";
import { migrationStatements } from "../test/helpers/registry.js";

// ─── Inputs ────────────────────────────────────────────────────────────────────────────────────

const SEED = 20261126;

/** The npm-like registry we size for. */
const WORKLOAD = {
  /** Sandworm "State of npm 2023": 3,342,873 packages; Sonatype 2024 report: 4.8 M npm projects. */
  packages: 4_000_000,
  /** bocoup "npm in numbers": median 3 releases per package. */
  versionsMedian: 3,
  /** Sandworm 2023: 34,335,328 versions, 10.27 per package; Sonatype 2024: 48.8 M / 4.8 M ≈ 10. */
  versionsMean: 10.3,
  versionsMax: 20_000,
  /** Assumption: share of packages in a scope, number of scopes, and how unevenly scopes fill. */
  scopedShare: 0.3,
  scopes: 300_000,
  scopeZipf: 0.8,
  /** Assumption, illustrative: namespaces far larger than the rest (a @types-like scope, an SDK monorepo, a canary bot). */
  whales: [
    { name: "@types-like", packages: 10_000, versions: 40 },
    { name: "@sdk-monorepo", packages: 400, versions: 1_000 },
    { name: "@canary-bot", packages: 1_000, versions: 3_000 },
  ],
  /** (48.8 M − 34.3 M versions) between the Sandworm (mid-2023) and Sonatype (mid-2024) counts ≈ 37 k a day. */
  publishesPerDay: 40_000,
  /** Assumption: busiest hour ÷ mean hour, for publishes and for downloads. */
  peakFactor: 2,
  /** Assumption: a monorepo release, versions per minute into one namespace. */
  burstPerMinute: 1_000,
  /** Assumption: seconds between a publish's first D1 read and its commit (the upload). */
  uploadSeconds: 2,
  /** Socket: 184 B downloads/month at the end of 2023 (≈ 42 B/week); Sonatype: 4.5 T npm requests in 2024 (≈ 86 B/week). */
  tarballsPerWeek: 50e9,
  /** Assumption: packument requests per tarball download (npm ci with resolved URLs: 0; npm install: ≈ 1). */
  packumentsPerTarball: 1,
  /**
   * Assumption: popularity of the package at rank r ∝ (r + q)^-s, chosen so that the top package
   * takes ≈ 0.5 % of downloads and the top 1,000 ≈ half (the most-downloaded npm packages report
   * hundreds of millions a week each, against ≈ 50 B in all).
   */
  zipfS: 1.2,
  zipfQ: 40,
  /** Assumption: a package's tarball downloads over its latest, previous, and all older versions. */
  versionSplit: [0.6, 0.25, 0.15],
  /** Assumption: search requests per second, each one substring scan (storage/d1.ts search). */
  searchesPerSecond: 10,
} as const;

/** Edge caches. Cloudflare publishes no per-colo cache size or eviction time: τ is a parameter. */
const CACHE = {
  /** Assumption: colos serving the registry, and how unevenly traffic spreads over them. */
  colos: 300,
  coloZipf: 0.8,
  /** Idle eviction: an object survives in a colo's cache if requested again within τ seconds. */
  idleSeconds: [600, 3_600, 86_400],
  /** The τ used for the cost tables. */
  baseIdleSeconds: 3_600,
  /** Name → packument revision pointer (A1), or the CDN's packument TTL (B): fixed, from when cached. */
  pointerTtl: 60,
  /** Staleness bounds (s) compared: how long a packument may lag a publish at the edge. */
  staleness: [30, 60, 300],
  /** The colo simulated request by request (rank in traffic), and how many requests. */
  simColoRank: 30,
  simRequests: 3_000_000,
  simIdleSeconds: 600,
};

/** Prices, Workers Paid, USD (developers.cloudflare.com/workers/platform/pricing/, /d1/platform/pricing/, /r2/pricing/). */
const COST = {
  workersBase: 5,
  workersRequestsIncluded: 10e6,
  workersPerMillionRequests: 0.3,
  workersCpuMsIncluded: 30e6,
  workersPerMillionCpuMs: 0.02,
  d1RowsReadIncluded: 25e9,
  d1PerMillionRowsRead: 0.001,
  d1RowsWrittenIncluded: 50e6,
  d1PerMillionRowsWritten: 1.0,
  d1StorageIncludedGB: 5,
  d1PerGBMonth: 0.75,
  r2PerGBMonth: 0.015,
  r2ClassAPerMillion: 4.5,
  r2ClassBPerMillion: 0.36,
  doPerMillionRequests: 0.15,
  /** Sandworm 2023: 24.17 TB over 34.3 M versions ≈ 705 KB each; if that is unpacked size, tarballs are smaller (an upper bound). */
  artifactBytesPerVersion: 705e3,
  /** Assumption: Worker CPU per request: an edge-cache hit, a tarball miss, a packument built from D1 (+ per version). */
  cpuHitMs: 0.3,
  cpuTarballMissMs: 0.5,
  cpuPackumentBuildMs: 1,
  cpuPackumentPerVersionMs: 0.05,
  /** shared/design.md, measured on one core: noble sign ≈ 0.3 ms, noble verify ≈ 1.1 ms, native SHA-512 ≈ 650 MB/s. */
  signMs: 0.3,
  verifyMs: 1.1,
  hashMBps: 650,
};

/** Platform limits (developers.cloudflare.com/d1/platform/limits/, /durable-objects/, /workers/platform/limits/). */
const LIMITS = {
  d1MaxBytes: 10e9,
  /** Fill a shard to this share of its 10 GB, leaving room to grow and to move buckets. */
  shardFill: 0.5,
  /** "If your average query takes 1 ms, you can run approximately 1,000 queries per second." */
  d1QueriesPerSecond: 1_000,
  d1MaxResultBytes: 50e6,
  doRequestsPerSecond: 1_000,
  /** docs/PROTOCOL.md §11: the publisher envelope is at most 1 MiB. */
  envelopeBytes: 1024 * 1024,
  virtualBuckets: 4096,
};

const SECONDS_PER_MONTH = 30.4 * 86_400;
const SECONDS_PER_WEEK = 7 * 86_400;

// ─── Small tools ───────────────────────────────────────────────────────────────────────────────

/** sfc32: a small, fast, seedable PRNG; the whole run draws from one stream in a fixed order. */
function prng(seed: number): () => number {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

/** A 32-bit integer hash (murmur3's finaliser): stands in for SHA-256(namespace) → bucket. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const lognormal = (rand: () => number, median: number, sigma: number) => median * Math.exp(sigma * normal(rand));

/** Index of the first cdf entry ≥ u (cdf ascending, last entry 1). */
function search(cdf: Float64Array, u: number): number {
  let lo = 0, hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid]! < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Normalised cumulative weights of w(i), i = 0..n-1. */
function cumulative(n: number, w: (i: number) => number): Float64Array {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) cdf[i] = sum += w(i);
  for (let i = 0; i < n; i++) cdf[i]! /= sum;
  cdf[n - 1] = 1;
  return cdf;
}

const fmt = (x: number, digits = 0) => x.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const pct = (x: number, digits = 1) => `${(100 * x).toFixed(digits)} %`;
const gb = (bytes: number) => `${fmt(bytes / 1e9, 1)} GB`;
const usd = (x: number) => `$${fmt(x)}`;
const si = (x: number) => (x >= 1e12 ? `${fmt(x / 1e12, 1)} T` : x >= 1e9 ? `${fmt(x / 1e9, 1)} B` : x >= 1e6 ? `${fmt(x / 1e6, 1)} M` : x >= 1e3 ? `${fmt(x / 1e3, 1)} k` : fmt(x, x < 10 ? 2 : 0));

function table(title: string, head: string[], rows: (string | number)[][]): void {
  const out = [`\n### ${title}\n`, `| ${head.join(" | ")} |`, `|${head.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`];
  for (const row of rows) out.push(`| ${row.join(" | ")} |`);
  process.stdout.write(`${out.join("\n")}\n`);
}

const log = (line: string) => process.stderr.write(`[scale] ${line}\n`);

// ─── 1. Calibration on the real code ───────────────────────────────────────────────────────────

interface Calibration {
  versions: number;
  meanFiles: number;
  /** Bundle JSON bytes ≈ bundleBase + bundlePerFile × files (least squares over the sample). */
  bundleBase: number;
  bundlePerFile: number;
  meanBundle: number;
  meanManifest: number;
  /** D1 bytes per version row (table, its three indexes, overflow pages), and per dist-tag row. */
  d1PerVersion: number;
  d1PerTag: number;
  d1PerNamespace: number;
  rowsWrittenVersion: number;
  rowsWrittenTag: number;
  rowsReadPackument: number;
  rowsReadTarball: number;
  packumentVersions: number;
  /** Files that fit the 1 MiB publisher envelope. */
  maxFiles: number;
}

const hex = (rand: () => number, chars: number) => Array.from({ length: chars }, () => "0123456789abcdef"[Math.floor(rand() * 16)]).join("");
const WORDS = ["lib", "dist", "src", "utils", "core", "index", "types", "helpers", "esm", "cjs", "plugin", "parser"];
const word = (rand: () => number) => WORDS[Math.floor(rand() * WORDS.length)]!;

/** Per-file digests as `countersign publish` signs them (attributes.files), with plausible paths. */
function fileList(rand: () => number, count: number): NonNullable<Attributes["files"]> {
  return Array.from({ length: count }, (_, i) => ({ path: `${word(rand)}/${word(rand)}/${word(rand)}-${i}.js`, size: Math.floor(rand() * 40_000), sha256: hex(rand, 64) }));
}

/** Assumption: files per npm version ~ lognormal, median 12; manifest (package.json) bytes ~ lognormal, median 1 KB. */
const sampleFiles = (rand: () => number, cap: number) => Math.min(cap, Math.max(1, Math.round(lognormal(rand, 12, 1.2))));
const sampleManifestBytes = (rand: () => number) => Math.min(20_000, Math.max(200, Math.round(lognormal(rand, 1_000, 0.7))));

interface SampleVersion {
  name: string;
  version: string;
  namespace: string;
  files: number;
  bundle: string;
  manifest: string;
  sha512: string;
  sha256: string;
  sha1: string;
  size: number;
}

const CAL_PACKAGES = 500;
const CAL_VERSIONS_PER_PACKAGE = 4;
const publishedAt = new Date("2026-11-24T12:00:00.000Z");

async function calibrate(rand: () => number): Promise<Calibration> {
  const registry = await createSigner(new Uint8Array(32).fill(1));
  const publisher = await createSigner(new Uint8Array(32).fill(2));

  // The largest file list one publisher envelope (at most 1 MiB) carries: envelopes of 0 and 1,000 files.
  const envelopeBytes = async (files: number) =>
    JSON.stringify(await signPublishStatement({ name: "@acme/probe", version: "1.0.0", digests: await artifactDigests(utf8("probe")), size: 5, publisher, createdAt: publishedAt, attributes: { files: fileList(rand, files) } })).length;
  const empty = await envelopeBytes(0);
  const maxFiles = Math.floor((LIMITS.envelopeBytes - empty) / ((await envelopeBytes(1000)) - empty) * 1000);

  log(`signing ${CAL_PACKAGES * CAL_VERSIONS_PER_PACKAGE} bundles…`);
  const t0 = performance.now();
  const rows: SampleVersion[] = [];
  for (let p = 0; p < CAL_PACKAGES; p++) {
    const namespace = `@scope${p}`;
    const name = `${namespace}/pkg-${p}`;
    for (let v = 0; v < CAL_VERSIONS_PER_PACKAGE; v++) {
      const version = `1.${v}.0`;
      const files = sampleFiles(rand, maxFiles);
      const size = Math.round(lognormal(rand, 50_000, 1));
      const digests = await artifactDigests(utf8(`${name}@${version}`));
      const envelope = await signPublishStatement({ name, version, digests, size, publisher, createdAt: publishedAt, attributes: { files: fileList(rand, files) } });
      const bundle = JSON.stringify(await registryCountersign(envelope, registry, { origin: "https://registry.example.com", sequence: rows.length + 1, publishedAt }));
      const manifestBytes = sampleManifestBytes(rand);
      const stub = JSON.stringify({ name, version, description: "", license: "MIT", main: "index.js" });
      const manifest = JSON.stringify({ name, version, description: "d".repeat(Math.max(0, manifestBytes - stub.length)), license: "MIT", main: "index.js" });
      rows.push({ name, version, namespace, files, bundle, manifest, ...digests, sha1: hex(rand, 40), size });
    }
  }

  log(`signed in ${((performance.now() - t0) / 1000).toFixed(1)} s; inserting into a local D1…`);

  // bundle bytes = a + b × files, least squares over the sample.
  const n = rows.length;
  const mx = rows.reduce((s, r) => s + r.files, 0) / n;
  const my = rows.reduce((s, r) => s + r.bundle.length, 0) / n;
  const b = rows.reduce((s, r) => s + (r.files - mx) * (r.bundle.length - my), 0) / rows.reduce((s, r) => s + (r.files - mx) ** 2, 0);
  return {
    versions: n,
    meanFiles: mx,
    bundleBase: my - b * mx,
    bundlePerFile: b,
    meanBundle: my,
    meanManifest: rows.reduce((s, r) => s + r.manifest.length, 0) / n,
    maxFiles,
    ...(await measureD1(rows, publisher.keyid)),
  };
}

/** The rows in a local D1 with the repository's migrations: bytes per row (SQLite's page count), rows written and read. */
async function measureD1(rows: SampleVersion[], keyid: string) {
  const mf = new Miniflare({ modules: true, script: "export default { fetch() { return new Response(null, { status: 404 }) } }", d1Databases: ["DB"] });
  try {
    const db = await mf.getD1Database("DB");
    let size = (await db.batch(migrationStatements().map((s) => db.prepare(s)))).at(-1)!.meta.size_after as number;
    const schemaBytes = size;
    const grow = (after: number) => {
      const delta = after - size;
      size = after;
      return delta;
    };
    // Insert with the table's own column list (the schema may grow columns with defaults).
    const columns = new Set((await db.prepare("PRAGMA table_info(versions)").all<{ name: string }>()).results.map((c) => c.name));
    const values: Record<string, (r: SampleVersion, i: number) => unknown> = {
      name: (r) => r.name, version: (r) => r.version, namespace: (r) => r.namespace, sequence: (_, i) => i + 1, size: (r) => r.size,
      sha256: (r) => r.sha256, sha512: (r) => r.sha512, sha1: (r) => r.sha1, publisher_keyid: () => keyid, bundle: (r) => r.bundle,
      manifest: (r) => r.manifest, published_at: () => publishedAt.toISOString(), deprecated: () => null,
    };
    const used = Object.keys(values).filter((c) => columns.has(c));
    const row = (r: SampleVersion, i: number) => used.map((c) => values[c]!(r, i));
    // One row alone, for the rows written by one insert; the rest 50 at a time through json_each
    // (one bound parameter per statement: few calls into workerd).
    const single = await db.prepare(`INSERT INTO versions (${used.join(", ")}) VALUES (${used.map(() => "?").join(", ")})`).bind(...row(rows[0]!, 0)).run();
    const rowsWrittenVersion = single.meta.rows_written as number;
    const bulk = `INSERT INTO versions (${used.join(", ")}) SELECT ${used.map((_, c) => `json_extract(j.value, '$[${c}]')`).join(", ")} FROM json_each(?1) AS j`;
    for (let i = 1; i < rows.length; i += 50) {
      const chunk = rows.slice(i, i + 50).map((r, j) => row(r, i + j));
      grow((await db.prepare(bulk).bind(JSON.stringify(chunk)).run()).meta.size_after as number);
    }
    const d1Versions = size - schemaBytes;
    const tagColumns = new Set((await db.prepare("PRAGMA table_info(dist_tags)").all<{ name: string }>()).results.map((c) => c.name));
    const sortKey = tagColumns.has("sort_key");
    const tagInsert = (source: string) => `INSERT INTO dist_tags (name, tag, version${sortKey ? ", sort_key" : ""}) SELECT ${source}, 'latest', '1.3.0'${sortKey ? ", '003001003003003000~'" : ""}`;
    const names = rows.filter((_, i) => i % CAL_VERSIONS_PER_PACKAGE === 0);
    const firstTag = await db.prepare(`${tagInsert("?1")}`).bind(names[0]!.name).run();
    const rowsWrittenTag = firstTag.meta.rows_written as number;
    const restTags = await db.prepare(`${tagInsert("j.value")} FROM json_each(?1) AS j`).bind(JSON.stringify(names.slice(1).map((r) => r.name))).run();
    const d1Tags = grow(firstTag.meta.size_after as number) + grow(restTags.meta.size_after as number);
    const spaces = JSON.stringify(names.map((r) => r.namespace));
    const at = publishedAt.toISOString();
    const spaced = await db.batch([
      db.prepare("INSERT INTO namespaces (namespace, created_at) SELECT j.value, ?2 FROM json_each(?1) AS j").bind(spaces, at),
      db.prepare("INSERT INTO publisher_keys (namespace, keyid, public_key, label, created_at) SELECT j.value, ?2, ?3, '', ?4 FROM json_each(?1) AS j").bind(spaces, keyid, "A".repeat(44), at),
    ]);
    const d1Namespaces = grow(spaced.at(-1)!.meta.size_after as number);
    // The reads of the npm routes, as storage/d1.ts issues them: listVersions (packument), getVersion (tarball).
    const name = rows[0]!.name;
    const packument = await db.batch([
      db.prepare("SELECT * FROM versions WHERE name = ? ORDER BY sequence").bind(name),
      db.prepare("SELECT tag, version FROM dist_tags WHERE name = ? ORDER BY tag").bind(name),
      db.prepare("SELECT version, envelope FROM reviews WHERE name = ? ORDER BY created_at, reviewer_keyid").bind(name),
    ]);
    const tarball = await db.batch([
      db.prepare("SELECT * FROM versions WHERE name = ? AND version = ?").bind(name, "1.0.0"),
      db.prepare("SELECT version, envelope FROM reviews WHERE name = ? AND version = ? ORDER BY created_at, reviewer_keyid").bind(name, "1.0.0"),
    ]);
    const sum = (rs: { meta: Record<string, unknown> }[]) => rs.reduce((n, r) => n + (r.meta.rows_read as number), 0);
    return {
      d1PerVersion: d1Versions / rows.length,
      d1PerTag: d1Tags / names.length,
      d1PerNamespace: d1Namespaces / names.length,
      rowsWrittenVersion,
      rowsWrittenTag,
      rowsReadPackument: sum(packument),
      rowsReadTarball: sum(tarball),
      packumentVersions: CAL_VERSIONS_PER_PACKAGE,
    };
  } finally {
    await mf.dispose();
  }
}

// ─── 2. A sampled registry ─────────────────────────────────────────────────────────────────────

interface Registry {
  count: number;
  /** Per package: versions, namespace id, popularity rank (0 = most downloaded). */
  versions: Int32Array;
  namespace: Int32Array;
  rank: Int32Array;
  /** Versions per namespace id. */
  namespaceVersions: Float64Array;
  namespaces: number;
  totalVersions: number;
}

function sampleRegistry(rand: () => number): Registry {
  const { packages, scopes, whales } = WORKLOAD;
  const count = packages + whales.reduce((n, w) => n + w.packages, 0);
  const versions = new Int32Array(count), namespace = new Int32Array(count);
  // mean = median · e^(σ²/2) for a lognormal
  const sigma = Math.sqrt(2 * Math.log(WORKLOAD.versionsMean / WORKLOAD.versionsMedian));
  const scopeCdf = cumulative(scopes, (i) => (i + 1) ** -WORKLOAD.scopeZipf);
  // Namespace ids: scopes 0..scopes-1, then the whales, then one per unscoped package.
  let nextUnscoped = scopes + whales.length;
  for (let i = 0; i < packages; i++) {
    versions[i] = Math.min(WORKLOAD.versionsMax, Math.max(1, Math.round(lognormal(rand, WORKLOAD.versionsMedian, sigma))));
    namespace[i] = rand() < WORKLOAD.scopedShare ? search(scopeCdf, rand()) : nextUnscoped++;
  }
  let i = packages;
  whales.forEach((w, k) => {
    for (let j = 0; j < w.packages; j++, i++) {
      versions[i] = w.versions;
      namespace[i] = scopes + k;
    }
  });
  // Popularity is independent of namespace and version count (a simplification: popular packages tend to have more versions).
  const rank = new Int32Array(count);
  for (let k = 0; k < count; k++) rank[k] = k;
  for (let k = count - 1; k > 0; k--) {
    const j = Math.floor(rand() * (k + 1));
    const t = rank[k]!;
    rank[k] = rank[j]!;
    rank[j] = t;
  }
  const namespaceVersions = new Float64Array(nextUnscoped);
  let totalVersions = 0;
  for (let k = 0; k < count; k++) {
    namespaceVersions[namespace[k]!]! += versions[k]!;
    totalVersions += versions[k]!;
  }
  return { count, versions, namespace, rank, namespaceVersions, namespaces: nextUnscoped, totalVersions };
}

/** Zipf-Mandelbrot download share of the package at popularity rank r (0-based). */
function popularity(count: number): Float64Array {
  const w = new Float64Array(count);
  let sum = 0;
  for (let r = 0; r < count; r++) sum += w[r] = (r + 1 + WORKLOAD.zipfQ) ** -WORKLOAD.zipfS;
  for (let r = 0; r < count; r++) w[r]! /= sum;
  return w;
}

// ─── Sharding ──────────────────────────────────────────────────────────────────────────────────

/**
 * namespace → one of 4,096 virtual buckets by hash → a shard by a small table (bucket mod S to
 * start with; moving a bucket is a table edit). A split namespace routes by package name instead.
 */
function shardOf(reg: Registry, shards: number, split: Set<number>): Int32Array {
  const out = new Int32Array(reg.count);
  for (let k = 0; k < reg.count; k++) {
    const ns = reg.namespace[k]!;
    const key = split.has(ns) ? 0x40000000 + k : ns;
    out[k] = (mix32(key + SEED) % LIMITS.virtualBuckets) % shards;
  }
  return out;
}

interface ShardStats {
  bytes: Float64Array;
  versions: Float64Array;
  traffic: Float64Array;
}

function shardStats(reg: Registry, shard: Int32Array, shards: number, bytesPerVersion: number, bytesPerPackage: number, share: Float64Array): ShardStats {
  const bytes = new Float64Array(shards), versions = new Float64Array(shards), traffic = new Float64Array(shards);
  for (let k = 0; k < reg.count; k++) {
    const s = shard[k]!;
    versions[s]! += reg.versions[k]!;
    bytes[s]! += reg.versions[k]! * bytesPerVersion + bytesPerPackage;
    traffic[s]! += share[reg.rank[k]!]!;
  }
  return { bytes, versions, traffic };
}

const maxOf = (a: Float64Array) => a.reduce((m, x) => Math.max(m, x), 0);
const meanOf = (a: Float64Array) => a.reduce((s, x) => s + x, 0) / a.length;

// ─── 3. Cache model ────────────────────────────────────────────────────────────────────────────

/** Popularity ranks grouped into bins (single ranks first, then 2 % wide): the analytic sums run over bins, not 4 M packages. */
interface Bins {
  start: Int32Array;
  size: Int32Array;
  /** Mean download share of one package in the bin. */
  share: Float64Array;
  ofRank: Int32Array;
}

function binRanks(share: Float64Array): Bins {
  const starts: number[] = [];
  for (let r = 0; r < share.length; r = r < 100 ? r + 1 : Math.ceil(r * 1.02)) starts.push(r);
  const n = starts.length;
  const start = Int32Array.from(starts), size = new Int32Array(n), mean = new Float64Array(n), ofRank = new Int32Array(share.length);
  for (let b = 0; b < n; b++) {
    const end = b + 1 < n ? starts[b + 1]! : share.length;
    size[b] = end - starts[b]!;
    let sum = 0;
    for (let r = starts[b]!; r < end; r++) {
      sum += share[r]!;
      ofRank[r] = b;
    }
    mean[b] = sum / size[b]!;
  }
  return { start, size, share: mean, ofRank };
}

/** Traffic share of each colo (Zipf over colos). */
function coloShares(): Float64Array {
  const w = new Float64Array(CACHE.colos);
  let sum = 0;
  for (let c = 0; c < CACHE.colos; c++) sum += w[c] = (c + 1) ** -CACHE.coloZipf;
  for (let c = 0; c < CACHE.colos; c++) w[c]! /= sum;
  return w;
}

/** Miss rate of one object requested at Poisson rate λ (per s): idle eviction τ, or a fixed TTL from insertion. */
const idleMiss = (lambda: number, tau: number) => lambda * Math.exp(-lambda * tau);
const ttlMiss = (lambda: number, ttl: number) => lambda / (1 + lambda * ttl);

/**
 * Misses per second, per bin (for one package of the bin), of a per-colo cache (the Cache API:
 * no tiering) for objects whose global request rate is `rate × share × split`.
 */
function perColoMisses(bins: Bins, colos: Float64Array, rate: number, split: readonly number[], miss: (lambda: number) => number): Float64Array {
  const out = new Float64Array(bins.share.length);
  for (let b = 0; b < out.length; b++) {
    let m = 0;
    for (const part of split) for (const c of colos) m += miss(rate * bins.share[b]! * part * c);
    out[b] = m;
  }
  return out;
}

/** Misses per second that reach R2, per bin: per-colo lower tiers (idle τ) in front of one upper tier. */
function tieredMisses(bins: Bins, colos: Float64Array, rate: number, split: readonly number[], lower: (l: number) => number, upper: (l: number) => number): Float64Array {
  const out = new Float64Array(bins.share.length);
  for (let b = 0; b < out.length; b++) {
    let m = 0;
    for (const part of split) {
      let toUpper = 0;
      for (const c of colos) toUpper += lower(rate * bins.share[b]! * part * c);
      m += upper(toUpper);
    }
    out[b] = m;
  }
  return out;
}

const total = (perBin: Float64Array, bins: Bins) => perBin.reduce((s, m, b) => s + m * bins.size[b]!, 0);

/**
 * One colo request by request: Poisson arrivals, package by popularity, version by the split;
 * an object hits if requested within τ of its last request (idle eviction), a pointer if within
 * the TTL of when it was cached. Checks the analytic formulas on the same colo.
 */
function simulateColo(rand: () => number, share: Float64Array, rate: number): { tarballHit: number; pointerHit: number } {
  const cdf = new Float64Array(share.length);
  let sum = 0;
  for (let r = 0; r < share.length; r++) cdf[r] = sum += share[r]!;
  cdf[share.length - 1] = 1;
  const parts = WORKLOAD.versionSplit.length;
  const lastSeen = new Float32Array(share.length * parts).fill(-Infinity);
  const expires = new Float32Array(share.length).fill(-Infinity);
  const warmUp = CACHE.simRequests / 5;
  let now = 0, tarballHits = 0, pointerHits = 0, counted = 0;
  for (let i = 0; i < CACHE.simRequests; i++) {
    now += -Math.log(1 - rand()) / rate;
    const r = search(cdf, rand());
    const u = rand();
    const v = u < WORKLOAD.versionSplit[0] ? 0 : u < WORKLOAD.versionSplit[0] + WORKLOAD.versionSplit[1] ? 1 : 2;
    const key = r * parts + v;
    const tarballHit = now - lastSeen[key]! <= CACHE.simIdleSeconds;
    lastSeen[key] = now;
    const pointerHit = now < expires[r]!;
    if (!pointerHit) expires[r] = now + CACHE.pointerTtl;
    if (i >= warmUp) {
      counted++;
      if (tarballHit) tarballHits++;
      if (pointerHit) pointerHits++;
    }
  }
  return { tarballHit: tarballHits / counted, pointerHit: pointerHits / counted };
}

// ─── The run ───────────────────────────────────────────────────────────────────────────────────

const started = performance.now();
const rand = prng(SEED);
const cal = await calibrate(rand);
log(`calibrated in ${((performance.now() - started) / 1000).toFixed(1)} s`);

process.stdout.write(`# countersign at npm scale: numbers from \`npm run bench:scale\`\n`);

table("1. Calibration: one version in D1 (real bundles, the repository's migrations, local SQLite)", ["quantity", "value"], [
  [`versions inserted (${CAL_PACKAGES} packages × ${CAL_VERSIONS_PER_PACKAGE})`, fmt(cal.versions)],
  ["files per version (sampled, lognormal median 12)", fmt(cal.meanFiles, 1)],
  ["provenance bundle, bytes = a + b × files", `${fmt(cal.bundleBase)} + ${fmt(cal.bundlePerFile, 1)} × files`],
  ["mean bundle / mean manifest (package.json), bytes", `${fmt(cal.meanBundle)} / ${fmt(cal.meanManifest)}`],
  ["**D1 bytes per version** (row, 3 indexes, overflow pages)", `**${fmt(cal.d1PerVersion)}**`],
  ["D1 bytes per package (its `latest` dist-tag row)", fmt(cal.d1PerTag)],
  ["D1 bytes per namespace (namespace + one publisher key)", fmt(cal.d1PerNamespace)],
  ["rows written: version insert / dist-tag insert", `${cal.rowsWrittenVersion} / ${cal.rowsWrittenTag}`],
  [`rows read: packument of ${cal.packumentVersions} versions (listVersions) / tarball (getVersion)`, `${cal.rowsReadPackument} / ${cal.rowsReadTarball}`],
  ["files that fit the 1 MiB publisher envelope", fmt(cal.maxFiles)],
]);

log("sampling the registry…");
const reg = sampleRegistry(rand);
const share = popularity(reg.count);
const bytesPerPackage = cal.d1PerTag;
const d1Total = reg.totalVersions * cal.d1PerVersion + reg.count * bytesPerPackage + reg.namespaces * cal.d1PerNamespace;
const shardBudget = LIMITS.d1MaxBytes * LIMITS.shardFill;
const shards = 2 ** Math.ceil(Math.log2(d1Total / shardBudget));
const top = (n: number) => share.subarray(0, n).reduce((s, x) => s + x, 0);
const bigVersions = reg.versions.reduce((n, v) => n + (v * (cal.meanBundle + cal.meanManifest + 300) > LIMITS.d1MaxResultBytes ? 1 : 0), 0);

table("2. The sampled registry", ["quantity", "value"], [
  ["packages (incl. the 3 large namespaces)", fmt(reg.count)],
  ["versions (mean per package)", `${fmt(reg.totalVersions)} (${fmt(reg.totalVersions / reg.count, 1)})`],
  ["namespaces", fmt(reg.namespaces)],
  ["download share: top package / top 1,000 / top 100,000", `${pct(top(1), 2)} / ${pct(top(1000))} / ${pct(top(100_000))}`],
  ["**D1 metadata in all**", `**${gb(d1Total)}**`],
  ["… of which provenance bundles (mean bundle × versions)", gb(reg.totalVersions * cal.meanBundle)],
  [`D1 databases at ≤ ${pct(LIMITS.shardFill, 0)} of 10 GB (power of two)`, fmt(shards)],
  ["R2 artifacts (≤ 705 KB per version, Sandworm's average)", `${fmt((reg.totalVersions * COST.artifactBytesPerVersion) / 1e12, 1)} TB`],
  ["packages whose full packument would exceed D1's 50 MB result", fmt(bigVersions)],
]);

// Sharding: by namespace; then again with the namespaces that overflow a shard split by package.
const byNamespace = shardOf(reg, shards, new Set());
const before = shardStats(reg, byNamespace, shards, cal.d1PerVersion, bytesPerPackage, share);
const overflowing = new Set<number>();
reg.namespaceVersions.forEach((v, ns) => {
  if (v * cal.d1PerVersion > shardBudget / 4) overflowing.add(ns);
});
const split = shardOf(reg, shards, overflowing);
const after = shardStats(reg, split, shards, cal.d1PerVersion, bytesPerPackage, share);

const publishPerSecond = WORKLOAD.publishesPerDay / 86_400;
const peakPublish = publishPerSecond * WORKLOAD.peakFactor;
const shardRow = (label: string, s: ShardStats) => [
  label,
  gb(meanOf(s.bytes)),
  gb(maxOf(s.bytes)),
  fmt(maxOf(s.bytes) / meanOf(s.bytes), 2),
  fmt((peakPublish * maxOf(s.versions)) / reg.totalVersions, 3),
  pct(maxOf(s.traffic), 2),
];
table(`3. Hash sharding over ${shards} D1 databases (4,096 virtual buckets)`, ["routing", "mean shard", "largest shard", "max ÷ mean", "peak publishes/s, busiest shard", "download share, hottest shard"], [
  shardRow("by namespace", before),
  shardRow(`by namespace, ${overflowing.size} namespaces over ${gb(shardBudget / 4)} split by package name`, after),
]);
const whaleRows = WORKLOAD.whales.map((w, k) => {
  const ns = WORKLOAD.scopes + k;
  return [w.name, `${fmt(w.packages)} × ${fmt(w.versions)}`, gb(reg.namespaceVersions[ns]! * cal.d1PerVersion), overflowing.has(ns) ? "split" : "one shard"];
});
const largestScope = reg.namespaceVersions.subarray(0, WORKLOAD.scopes).reduce((m, v) => Math.max(m, v), 0);
whaleRows.push(["largest sampled scope", `${fmt(largestScope)} versions`, gb(largestScope * cal.d1PerVersion), largestScope * cal.d1PerVersion > shardBudget / 4 ? "split" : "one shard"]);
table("3b. The large namespaces", ["namespace", "packages × versions", "D1 bytes", "routing"], whaleRows);

// ─── Reads ─────────────────────────────────────────────────────────────────────────────────────

log("cache model…");
const tarballRate = WORKLOAD.tarballsPerWeek / SECONDS_PER_WEEK;
const packumentRate = tarballRate * WORKLOAD.packumentsPerTarball;
const readRate = tarballRate + packumentRate;
const bins = binRanks(share);
const colos = coloShares();
const split3 = WORKLOAD.versionSplit;

// The check: one colo simulated request by request against the analytic formulas.
const simShare = colos[CACHE.simColoRank - 1]!;
const simulated = simulateColo(rand, share, tarballRate * simShare);
const analyticHit = (rate: number, parts: readonly number[], miss: (l: number) => number) => {
  let misses = 0;
  for (let b = 0; b < bins.share.length; b++) for (const p of parts) misses += bins.size[b]! * miss(rate * bins.share[b]! * p);
  return 1 - misses / rate;
};
const colo = tarballRate * simShare;
table(`4. Check: colo #${CACHE.simColoRank} (${pct(simShare, 2)} of traffic, ${fmt(colo)} tarball requests/s), ${si(CACHE.simRequests)} requests simulated`, ["cache", "analytic hit ratio", "simulated hit ratio"], [
  [`tarballs, idle eviction τ = ${CACHE.simIdleSeconds} s`, pct(analyticHit(colo, split3, (l) => idleMiss(l, CACHE.simIdleSeconds)), 2), pct(simulated.tarballHit, 2)],
  [`name → revision pointer, TTL ${CACHE.pointerTtl} s`, pct(analyticHit(colo, [1], (l) => ttlMiss(l, CACHE.pointerTtl)), 2), pct(simulated.pointerHit, 2)],
]);

// Hit ratios over all colos, by tier.
const hitRows = CACHE.idleSeconds.map((tau) => {
  const perColo = total(perColoMisses(bins, colos, tarballRate, split3, (l) => idleMiss(l, tau)), bins) / tarballRate;
  const tiered = total(tieredMisses(bins, colos, tarballRate, split3, (l) => idleMiss(l, tau), (l) => idleMiss(l, tau)), bins) / tarballRate;
  const body = total(perColoMisses(bins, colos, packumentRate, [1], (l) => idleMiss(l, tau)), bins) / packumentRate;
  return [`${fmt(tau)} s`, pct(1 - perColo, 2), pct(1 - tiered, 3), pct(1 - body, 2)];
});
table(`5. Edge hit ratios over ${CACHE.colos} colos (${si(tarballRate)} tarball and ${si(packumentRate)} packument requests/s)`, ["idle eviction τ", "tarballs, Cache API (per colo)", "tarballs, CDN + tiered cache (same τ at both tiers)", "packument body per revision, Cache API"], hitRows);

// ─── Three read architectures, priced ──────────────────────────────────────────────────────────

interface ReadBill {
  name: string;
  workerRequests: number;
  cpuMs: number;
  d1Queries: number;
  hotShardQueries: number;
  d1RowsRead: number;
  r2ClassB: number;
}

const meanVersions = reg.totalVersions / reg.count;
/** Download share → D1 queries/s at the hottest shard: each package's miss rate, summed per shard. */
function hottestShard(missPerBin: Float64Array): number {
  const perShard = new Float64Array(shards);
  for (let k = 0; k < reg.count; k++) perShard[split[k]!]! += missPerBin[bins.ofRank[reg.rank[k]!]!]!;
  return maxOf(perShard);
}
const everyRequest = (rate: number) => Float64Array.from(bins.share, (s) => rate * s);
const tau = CACHE.baseIdleSeconds;
const tarballMiss = perColoMisses(bins, colos, tarballRate, split3, (l) => idleMiss(l, tau));
const bodyMiss = perColoMisses(bins, colos, packumentRate, [1], (l) => idleMiss(l, tau));
const sumBins = (...a: Float64Array[]) => Float64Array.from(a[0]!, (_, b) => a.reduce((s, x) => s + x[b]!, 0));

/** A0: today's code: every tarball reads D1 (getVersion) before the Cache API; every packument is built from D1. */
function billA0(): ReadBill {
  const t = total(tarballMiss, bins);
  return {
    name: "A0 · Worker and D1 on every read (the code today)",
    workerRequests: readRate,
    cpuMs: tarballRate * COST.cpuHitMs + t * (COST.cpuTarballMissMs - COST.cpuHitMs) + packumentRate * (COST.cpuPackumentBuildMs + COST.cpuPackumentPerVersionMs * meanVersions),
    d1Queries: readRate,
    hotShardQueries: hottestShard(everyRequest(readRate)),
    d1RowsRead: tarballRate * cal.rowsReadTarball + packumentRate * (meanVersions + 1),
    r2ClassB: t,
  };
}

/** A1: edge-cached: a name → revision pointer (TTL) then the packument body per revision; tarballs looked up in the Cache API before D1. */
function billA1(ttl: number): ReadBill {
  const pointerMiss = perColoMisses(bins, colos, packumentRate, [1], (l) => ttlMiss(l, ttl));
  const t = total(tarballMiss, bins), p = total(pointerMiss, bins), body = total(bodyMiss, bins);
  return {
    name: `A1 · Worker on every read, Cache API before D1 (τ ${fmt(tau)} s, pointer ${ttl} s)`,
    workerRequests: readRate,
    cpuMs: readRate * COST.cpuHitMs + t * (COST.cpuTarballMissMs - COST.cpuHitMs) + body * (COST.cpuPackumentBuildMs + COST.cpuPackumentPerVersionMs * meanVersions),
    d1Queries: t + p + body,
    hotShardQueries: hottestShard(sumBins(tarballMiss, pointerMiss, bodyMiss)),
    d1RowsRead: t * cal.rowsReadTarball + p * 2 + body * (meanVersions + 1),
    r2ClassB: t,
  };
}

/** B: static reads: tarballs and packuments (written to R2 at publish) served from an R2 custom domain by the CDN, tiered. */
function billB(ttl: number): ReadBill {
  const t = total(tieredMisses(bins, colos, tarballRate, split3, (l) => idleMiss(l, tau), (l) => idleMiss(l, tau)), bins);
  const p = total(tieredMisses(bins, colos, packumentRate, [1], (l) => ttlMiss(l, ttl), (l) => ttlMiss(l, ttl)), bins);
  const dynamic = 0.01 * readRate; // assumption: /bundles, search, the native API: 1 % of reads
  return {
    name: `B · static reads: R2 custom domain + CDN + Smart Tiered Cache (packument TTL ${ttl} s)`,
    workerRequests: dynamic,
    cpuMs: dynamic * COST.cpuTarballMissMs,
    d1Queries: dynamic,
    hotShardQueries: dynamic * maxOf(after.traffic),
    d1RowsRead: dynamic * cal.rowsReadTarball,
    r2ClassB: t + p,
  };
}

const bills = [billA0(), billA1(CACHE.pointerTtl), billB(CACHE.pointerTtl)];

const month = (perSecond: number) => perSecond * SECONDS_PER_MONTH;
const over = (used: number, included: number) => Math.max(0, used - included);
function readCost(b: ReadBill) {
  const workers = COST.workersBase + (over(month(b.workerRequests), COST.workersRequestsIncluded) / 1e6) * COST.workersPerMillionRequests;
  const cpu = (over(month(b.cpuMs), COST.workersCpuMsIncluded) / 1e6) * COST.workersPerMillionCpuMs;
  const d1 = (over(month(b.d1RowsRead), COST.d1RowsReadIncluded) / 1e6) * COST.d1PerMillionRowsRead;
  const r2 = (month(b.r2ClassB) / 1e6) * COST.r2ClassBPerMillion;
  return { workers, cpu, d1, r2, total: workers + cpu + d1 + r2 };
}
const peak = WORKLOAD.peakFactor;
table("6. Read path: load (peak = mean × 2) and monthly cost", ["architecture", "Worker requests/month", "D1 queries/s, mean", "D1 queries/s, hottest shard at peak", "R2 Class B/month", "Workers $", "CPU $", "D1 rows read $", "R2 Class B $", "**total $/month**"], bills.map((b) => {
  const c = readCost(b);
  return [b.name, si(month(b.workerRequests)), si(b.d1Queries), `${si(b.hotShardQueries * peak)} (${pct((b.hotShardQueries * peak) / LIMITS.d1QueriesPerSecond, 0)} of ≈ 1,000)`, si(month(b.r2ClassB)), usd(c.workers), usd(c.cpu), usd(c.d1), usd(c.r2), `**${usd(c.total)}**`];
}));

// How stale a packument may be at the edge decides the D1 load (A1) or the R2 bill (B).
table("6b. Packument staleness bound: A1's name → revision pointer TTL, B's CDN TTL", ["staleness bound", "A1 pointer hit ratio", "A1 D1 queries/s, mean", "A1 hottest shard at peak", "B R2 Class B/month", "B total $/month"], CACHE.staleness.map((ttl) => {
  const a = billA1(ttl), b = billB(ttl);
  const pointerHit = 1 - total(perColoMisses(bins, colos, packumentRate, [1], (l) => ttlMiss(l, ttl)), bins) / packumentRate;
  return [`${ttl} s`, pct(pointerHit, 1), si(a.d1Queries), `${si(a.hotShardQueries * peak)} q/s`, si(month(b.r2ClassB)), usd(readCost(b).total)];
}));

// The hit ratio a design needs: the hottest shard's D1 load at peak under half its single-thread capacity.
const hotReadShare = maxOf(after.traffic);
const neededHit = 1 - (0.5 * LIMITS.d1QueriesPerSecond) / (readRate * peak * hotReadShare);
process.stdout.write(`\nFor the hottest shard (${pct(hotReadShare, 2)} of downloads) to stay under 500 D1 queries/s at peak, reads must hit an edge cache ${pct(neededHit, 2)} of the time before any D1 query (D1 read replicas raise this ceiling for reads).\n`);

// ─── Writes ────────────────────────────────────────────────────────────────────────────────────

const publishesMonth = WORKLOAD.publishesPerDay * 30.4;
const rowsPerPublish = cal.rowsWrittenVersion + cal.rowsWrittenTag;
const d1WriteCost = (over(publishesMonth * rowsPerPublish, COST.d1RowsWrittenIncluded) / 1e6) * COST.d1PerMillionRowsWritten;
const d1StorageCost = over(d1Total / 1e9, COST.d1StorageIncludedGB) * COST.d1PerGBMonth;
const r2StorageCost = ((reg.totalVersions * COST.artifactBytesPerVersion) / 1e9) * COST.r2PerGBMonth;
// The transparency log (shared/reference/transparency-logs.md): ≈ 4 R2 PUTs per 1-s sequencing round that has an entry.
const logRounds = SECONDS_PER_MONTH * (1 - Math.exp(-publishPerSecond));
const classA = publishesMonth + 4 * logRounds;
const conflict = 1 - Math.exp(-peakPublish * WORKLOAD.uploadSeconds);
const meanArtifact = 50_000; // the calibration's median tarball size, bytes
// Verify the publisher, countersign (again after a lost race), three digests of the tarball, and
// inflate it and SHA-256 each file (assumption: unpacked ≈ 3 × the tarball, inflate ≈ 200 MB/s).
const cpuPerPublish = COST.verifyMs + COST.signMs * (1 + conflict) + (3 * meanArtifact) / (COST.hashMBps * 1e3) + (3 * meanArtifact) / (200 * 1e3) + (3 * meanArtifact) / (COST.hashMBps * 1e3);
table("7. Write path", ["quantity", "value"], [
  ["publishes/day → mean/s → peak/s", `${fmt(WORKLOAD.publishesPerDay)} → ${fmt(publishPerSecond, 2)} → ${fmt(peakPublish, 2)}`],
  ["burst: one monorepo release into one shard", `${fmt(WORKLOAD.burstPerMinute)}/min = ${fmt(WORKLOAD.burstPerMinute / 60, 1)}/s`],
  ["D1 round trips per publish (publishContext batch, commit batch)", "2 (+2 per lost sequence race)"],
  [`publishes at peak that lose the commit-point sequence race once (${WORKLOAD.uploadSeconds} s upload, one database)`, pct(conflict, 0)],
  ["D1 rows written per publish (version + dist-tag, measured)", fmt(rowsPerPublish)],
  ["D1 rows written/month → cost", `${si(publishesMonth * rowsPerPublish)} → ${usd(d1WriteCost)}`],
  ["D1 storage → cost/month", `${gb(d1Total)} → ${usd(d1StorageCost)}`],
  ["R2 Class A/month: artifact PUTs + transparency-log PUTs (≈ 4 per 1-s round) → cost", `${si(classA)} → ${usd((classA / 1e6) * COST.r2ClassAPerMillion)}`],
  ["R2 storage → cost/month", `${usd(r2StorageCost)}`],
  ["CPU per publish, 50 KB tarball: verify, countersign, digests, inflate, per-file SHA-256", `≈ ${fmt(cpuPerPublish, 1)} ms (${usd((over(publishesMonth * cpuPerPublish, 0) / 1e6) * COST.workersPerMillionCpuMs)}/month)`],
  ["sequencer Durable Object at peak / burst (soft limit ≈ 1,000 req/s)", `${fmt(peakPublish, 2)} / ${fmt(WORKLOAD.burstPerMinute / 60, 1)} req/s`],
  ["sequencer requests/month: one per publish + a 1-s alarm while entries wait → cost", `${si(publishesMonth + logRounds)} → ${usd(((publishesMonth + logRounds) / 1e6) * COST.doPerMillionRequests)}`],
]);

// ─── Where it breaks first ─────────────────────────────────────────────────────────────────────

const a0 = bills[0]!, a1 = bills[1]!;
const searchRows = 2 * reg.count; // COUNT(*) and the page: each scans every `latest` tag (storage/d1.ts search)
const searchCost = (month(WORKLOAD.searchesPerSecond * searchRows) / 1e6) * COST.d1PerMillionRowsRead;
const gcSweepDays = reg.totalVersions / 5_000 / 24; // gc.ts: 5,000 blobs examined per hourly run
table("8. Demand against each limit (npm-like load)", ["limit", "demand", "× of the limit"], [
  ["one D1 database: 10 GB", gb(d1Total), fmt(d1Total / LIMITS.d1MaxBytes, 1)],
  ["D1 storage per account: 1 TB (Workers Paid; raised on request)", gb(d1Total), fmt(d1Total / 1e12, 2)],
  ["mean shard, A0 (D1 on every read): ≈ 1,000 queries/s", `${si((readRate * peak) / shards)} q/s`, fmt((readRate * peak) / shards / LIMITS.d1QueriesPerSecond, 1)],
  ["hottest shard, A0 (D1 on every read): ≈ 1,000 queries/s", `${si(a0.hotShardQueries * peak)} q/s`, fmt((a0.hotShardQueries * peak) / LIMITS.d1QueriesPerSecond, 1)],
  ["hottest shard, A1 (Cache API first): ≈ 1,000 queries/s", `${si(a1.hotShardQueries * peak)} q/s`, fmt((a1.hotShardQueries * peak) / LIMITS.d1QueriesPerSecond, 2)],
  ["search as a substring scan: rows read/month at 10 searches/s", `${si(month(WORKLOAD.searchesPerSecond * searchRows))} rows (${usd(searchCost)})`, "—"],
  ["blob GC sweep (5,000 blobs/hour) over every blob", `${fmt(gcSweepDays)} days per sweep`, "—"],
  ["largest namespace unsplit vs. a 10 GB database", gb(reg.namespaceVersions.reduce((m, v) => Math.max(m, v), 0) * cal.d1PerVersion), fmt((reg.namespaceVersions.reduce((m, v) => Math.max(m, v), 0) * cal.d1PerVersion) / LIMITS.d1MaxBytes, 2)],
  ["sequencer DO at burst: ≈ 1,000 req/s", `${fmt(WORKLOAD.burstPerMinute / 60, 1)} req/s`, fmt(WORKLOAD.burstPerMinute / 60 / LIMITS.doRequestsPerSecond, 3)],
  ["D1 databases per account (50,000) / bindings per Worker (≈ 5,000)", fmt(shards), fmt(shards / 5_000, 3)],
  ["fan-out search: 2 queries per shard vs. 1,000 D1 queries per invocation", fmt(2 * shards), fmt((2 * shards) / 1_000, 2)],
]);

log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
