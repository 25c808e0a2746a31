/**
 * Overhead of the runtime hook (dist/hook.mjs): start-up, and per module loaded.
 *
 * Builds a project with N packages in a pinned namespace (node_modules/@acme/pkg-i, each a
 * ~2 KB CommonJS module), a lockfile and a receipt signed by a throwaway receipt key, then times
 * (median of R runs each):
 *   - `node -e ""`                         vs  `node --import hook -e ""`          (start-up)
 *   - `node -e "require all N"`            vs  `node --import hook -e "require all N"`
 *
 *   npm run bench:hook [-- N R]
 */

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createSigner, generateKeyPair, RECEIPT_TYPE, signReceipt, toBase64, type ReceiptPackage } from "../src/core/index.js";

const n = Number(process.argv[2] ?? 200);
const runs = Number(process.argv[3] ?? 15);
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const hook = join(root, "dist", "hook.mjs");
const work = mkdtempSync(join(tmpdir(), "countersign-hook-bench-"));
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

const registry = await generateKeyPair();
writeFileSync(join(work, "countersign.json"), JSON.stringify({ version: 1, registries: { team: { url: "https://registry.invalid", fingerprints: [registry.keyid] } }, namespaces: { "@acme": "team" } }));
const lockfile = JSON.stringify({ name: "bench", lockfileVersion: 3, packages: { "": { name: "bench" } } });
writeFileSync(join(work, "package-lock.json"), lockfile);

const packages: ReceiptPackage[] = [];
for (let i = 0; i < n; i++) {
  const dir = join(work, "node_modules", "@acme", `pkg-${i}`);
  mkdirSync(dir, { recursive: true });
  const manifest = JSON.stringify({ name: `@acme/pkg-${i}`, version: "1.0.0", main: "index.js" });
  const code = `// package ${i}\n${Array.from({ length: 100 }, (_, j) => `const filler${j} = 'x';\n`).join("")}module.exports = ${i};\n`;
  writeFileSync(join(dir, "package.json"), manifest);
  writeFileSync(join(dir, "index.js"), code);
  packages.push({
    name: `@acme/pkg-${i}`,
    version: "1.0.0",
    namespace: "@acme",
    integrity: "sha512-unused",
    publisher: registry.keyid,
    registry: registry.keyid,
    files: [
      { path: "index.js", size: code.length, sha256: sha256(code) },
      { path: "package.json", size: manifest.length, sha256: sha256(manifest) },
    ],
  });
}

const receiptKey = await generateKeyPair();
const keyFile = join(work, "receipt-key.json");
writeFileSync(keyFile, JSON.stringify({ type: "countersign-private-key", version: 1, algorithm: "ed25519", keyid: receiptKey.keyid, publicKey: toBase64(receiptKey.publicKey), seed: toBase64(receiptKey.seed) }), { mode: 0o600 });
const receipt = { type: RECEIPT_TYPE as typeof RECEIPT_TYPE, createdAt: new Date().toISOString(), lockfiles: [{ path: "package-lock.json", sha256: sha256(lockfile) }], namespaces: ["@acme"], packages };
writeFileSync(join(work, "countersign-receipt.json"), JSON.stringify(await signReceipt(receipt, await createSigner(receiptKey))));

const requireAll = `let s = 0; for (let i = 0; i < ${n}; i++) s += require("@acme/pkg-" + i); if (s !== ${(n * (n - 1)) / 2}) throw new Error("bad sum");`;
const env = { ...process.env, COUNTERSIGN_RECEIPT_KEY_FILE: keyFile };

function median(args: string[]): number {
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = performance.now();
    execFileSync(process.execPath, args, { cwd: work, env, stdio: ["ignore", "ignore", "inherit"] });
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const startPlain = median(["-e", ""]);
const startHook = median(["--import", hook, "-e", ""]);
const loadPlain = median(["-e", requireAll]);
const loadHook = median(["--import", hook, "-e", requireAll]);
const result = {
  modules: n,
  runs,
  startupMs: { plain: +startPlain.toFixed(1), hook: +startHook.toFixed(1), overhead: +(startHook - startPlain).toFixed(1) },
  loadAllMs: { plain: +loadPlain.toFixed(1), hook: +loadHook.toFixed(1) },
  perModuleUs: +((((loadHook - startHook) - (loadPlain - startPlain)) / n) * 1000).toFixed(0),
  node: process.version,
};
rmSync(work, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(result)}\n`);
