/**
 * `countersign verify` of a whole project, as CI runs it, process start included:
 *
 *   - cold: every package fetched (batched) and verified (`--no-cache`), median of RUNS;
 *   - unchanged: the same project again with the receipt of a passing run present, which
 *     `verify` recognises from the digest of its inputs (pins, lockfiles, package.json), median
 *     of RUNS;
 *   - for scale, the client's bare start (`countersign --help`).
 *
 * A countersign registry (the Worker in workerd via Miniflare, 127.0.0.1) holds N packages
 * `@acme/bench-<i>@1.0.0`, each a real npm tarball with per-file digests signed by the
 * publisher; the consumer's package-lock.json locks all N.
 *
 *   npm run bench:project [-- N RUNS]
 */

import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { packTar } from "modern-tar";
import { bufferSource, sriFromHex, toHex, utf8 } from "../src/core/index.js";
import { adminApi } from "../test/helpers/actors.js";
import { cleanEnv } from "../test/helpers/cli.js";
import { CLI } from "../test/helpers/paths.js";
import { encodeName, fileDigests, newPublisher, signedParts, uploadBody } from "../test/helpers/publisher.js";
import { startRegistry } from "../test/helpers/registry.js";

const n = Number(process.argv[2] ?? 1000);
const runs = Number(process.argv[3] ?? 7);
const work = mkdtempSync(join(tmpdir(), "countersign-verify-bench-"));

async function tarball(i: number): Promise<Uint8Array> {
  const name = `@acme/bench-${i}`;
  const files = {
    "package/package.json": JSON.stringify({ name, version: "1.0.0", main: "index.js", license: "MIT" }, null, 2),
    "package/index.js": `"use strict";\n// ${name}\n${Array.from({ length: 30 }, (_, f) => `exports.f${f} = (x) => x * ${f + i};`).join("\n")}\n`,
    "package/lib/util.js": `module.exports = ${i};\n`,
    "package/README.md": `# ${name}\n\nGenerated for the countersign verify benchmark.\n`,
  };
  const tar = await packTar(Object.entries(files).map(([path, text]) => ({ header: { name: path, size: utf8(text).length, type: "file" as const, mtime: new Date(0) }, body: utf8(text) })));
  return new Uint8Array(await new Response(new Blob([bufferSource(tar)]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
}

function run(args: string[], cwd: string): Promise<{ ms: number; code: number; stdout: string; stderr: string }> {
  const start = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, env: cleanEnv({ COUNTERSIGN_RECEIPT_KEY_FILE: join(work, "receipt-key.json") }), maxBuffer: 256 * 1024 * 1024, timeout: 300_000 }, (error, stdout, stderr) => {
      resolve({ ms: performance.now() - start, code: error ? (typeof error.code === "number" ? error.code : 99) : 0, stdout, stderr });
    });
  });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const registry = await startRegistry({ name: "bench" });
try {
  process.stdout.write(`publishing ${n} packages…\n`);
  const publisher = await newPublisher();
  await adminApi(registry, "POST", "/namespaces", { namespace: "@acme" });
  await adminApi(registry, "POST", `/namespaces/${encodeURIComponent("@acme")}/keys`, { publicKey: publisher.publicKey });
  const { token } = (await adminApi(registry, "POST", "/tokens", { scope: "publish", namespaces: ["@acme"] })) as { token: string };
  const locked: Record<string, unknown> = { "": { name: "bench-consumer", version: "1.0.0" } };
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < n) {
        const i = next++;
        const name = `@acme/bench-${i}`;
        const bytes = await tarball(i);
        const parts = await signedParts(publisher, name, "1.0.0", bytes, { attributes: { files: await fileDigests(bytes) } });
        const response = await fetch(`${registry.url}/-/countersign/v1/packages/${encodeName(name)}/1.0.0`, {
          method: "PUT",
          headers: { authorization: `Bearer ${token}`, "content-type": "application/x-tar" },
          body: bufferSource(await uploadBody(parts)),
        });
        if (response.status !== 201) throw new Error(`publish ${name}: ${response.status} ${await response.text()}`);
        await response.arrayBuffer();
        const sha512 = toHex(new Uint8Array(await crypto.subtle.digest("SHA-512", bufferSource(bytes))));
        locked[`node_modules/${name}`] = { version: "1.0.0", resolved: `${registry.url}/${name}/-/bench-${i}-1.0.0.tgz`, integrity: sriFromHex("sha512", sha512) };
      }
    }),
  );

  const dir = join(work, "consumer");
  const dependencies = Object.fromEntries(Array.from({ length: n }, (_, i) => [`@acme/bench-${i}`, "1.0.0"]));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "bench-consumer", version: "1.0.0", dependencies }, null, 2));
  writeFileSync(join(dir, "package-lock.json"), JSON.stringify({ name: "bench-consumer", version: "1.0.0", lockfileVersion: 3, requires: true, packages: locked }, null, 2));
  writeFileSync(join(dir, "countersign.json"), JSON.stringify({ version: 1, registries: { team: { url: registry.url, fingerprints: [registry.key.keyid] } }, namespaces: { "@acme": "team", "@*": "reject", "*": "allow" } }, null, 2));

  const help: number[] = [];
  const cold: number[] = [];
  const unchanged: number[] = [];
  for (let r = 0; r < runs; r++) help.push((await run(["--help"], dir)).ms);
  for (let r = 0; r < runs; r++) {
    const result = await run(["verify", "--json", "--no-cache"], dir);
    const report = JSON.parse(result.stdout) as { summary: { verified: number }; cached?: boolean };
    if (result.code !== 0 || report.summary.verified !== n) throw new Error(`cold verify: exit ${result.code}, ${JSON.stringify(report.summary)}: ${result.stderr.slice(-1000)}`);
    cold.push(result.ms);
  }
  for (let r = 0; r < runs; r++) {
    const result = await run(["verify", "--json"], dir);
    const report = JSON.parse(result.stdout) as { cached?: boolean; summary: { verified: number } };
    if (result.code !== 0 || report.cached !== true || report.summary.verified !== n) throw new Error(`unchanged verify was not answered from the receipt: ${result.stdout.slice(0, 500)}`);
    unchanged.push(result.ms);
  }
  const result = {
    packages: n,
    runs,
    node: process.version,
    helpMs: Math.round(median(help)),
    coldMs: Math.round(median(cold)),
    coldPackagesPerSecond: Math.round((n / median(cold)) * 1000),
    unchangedMs: Math.round(median(unchanged)),
    runsMs: { help: help.map(Math.round), cold: cold.map(Math.round), unchanged: unchanged.map(Math.round) },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await registry.stop();
  if (process.env.BENCH_KEEP) process.stdout.write(`kept ${work}\n`);
  else rmSync(work, { recursive: true, force: true });
}
