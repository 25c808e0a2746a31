/**
 * @module
 * The benchmark packages: N packages `@acme/bench-<i>@1.0.0` (package.json, index.js, data.js,
 * README.md: ≈ 7.5 KB unpacked, ≈ 3.4 KB packed), packed by ONE real `npm pack dir1 dir2 …`.
 */

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mustExec } from "./util.js";

export interface Tarball {
  name: string;
  file: string;
  bytes: Uint8Array;
  sha1: string;
  integrity: string;
  /** The package.json packed into it. */
  manifest: Record<string, unknown>;
}

export const benchNames = (n: number) => Array.from({ length: n }, (_, i) => `@acme/bench-${i}`);

/** A few KB of distinct, plausible JavaScript per package. */
function indexJs(i: number): string {
  const lines = [`"use strict";`, `// @acme/bench-${i}: generated benchmark package`, `const id = ${i};`];
  for (let f = 0; f < 40; f++) lines.push(`exports.f${f} = function f${f}(x) { return (x * ${f + 1} + id) % ${997 + ((i * 31 + f) % 101)}; };`);
  lines.push(`exports.id = id;`, `exports.data = require("./data.js");`, "");
  return lines.join("\n");
}

/** ≈ 3 KB of seeded pseudo-random data, so that each tarball stays a few KB after gzip. */
function dataJs(i: number): string {
  let state = (i + 1) * 0x9e3779b1;
  const bytes = new Uint8Array(2304);
  for (let b = 0; b < bytes.length; b++) {
    state = (state ^ (state << 13)) >>> 0;
    state = (state ^ (state >>> 17)) >>> 0;
    state = (state ^ (state << 5)) >>> 0;
    bytes[b] = state & 0xff;
  }
  const base64 = Buffer.from(bytes).toString("base64");
  const chunks = base64.match(/.{1,64}/g) ?? [];
  return `"use strict";\nmodule.exports = [\n${chunks.map((c) => `  ${JSON.stringify(c)},`).join("\n")}\n];\n`;
}

/** Writes and packs the N packages under `run` (pkgs/, tarballs/). */
export async function makeTarballs(run: string, n: number): Promise<Tarball[]> {
  const pkgs = join(run, "pkgs");
  const out = join(run, "tarballs");
  mkdirSync(out, { recursive: true });
  const manifests = new Map<string, Record<string, unknown>>();
  const dirs = benchNames(n).map((name, i) => {
    const dir = join(pkgs, `bench-${i}`);
    mkdirSync(dir, { recursive: true });
    const manifest = { name, version: "1.0.0", description: `benchmark package ${i}`, main: "index.js", license: "MIT" };
    manifests.set(name, manifest);
    writeFileSync(join(dir, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    writeFileSync(join(dir, "index.js"), indexJs(i));
    writeFileSync(join(dir, "data.js"), dataJs(i));
    writeFileSync(join(dir, "README.md"), `# ${name}\n\n${"Generated for the countersign install benchmark. ".repeat(30)}\n`);
    return dir;
  });
  // One real `npm pack` for all of them (one process per package would cost ≈ 0.4 s each).
  const packed = await mustExec("npm", ["pack", ...dirs, "--pack-destination", out, "--json", "--ignore-scripts"], run);
  const report = JSON.parse(packed.stdout) as { name: string; filename: string }[];
  if (report.length !== n) throw new Error(`npm pack made ${report.length} tarballs, expected ${n}`);
  return report.map(({ name, filename }) => {
    const file = join(out, filename.replace(/^@/, "").replace("/", "-"));
    const bytes = new Uint8Array(readFileSync(file));
    return {
      name,
      file,
      bytes,
      sha1: createHash("sha1").update(bytes).digest("hex"),
      integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}`,
      manifest: manifests.get(name)!,
    };
  });
}
