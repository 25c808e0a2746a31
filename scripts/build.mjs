// Builds what runs outside wrangler, with esbuild (≈100 ms):
//   dist/countersign.mjs  the client CLI (package.json "bin")
//   dist/start.mjs        `npm start` (Miniflare stays external), and dist/read-config.mjs, its wrangler.toml reader
//   dist/hook.mjs         the runtime hook (node --import), and dist/hook-loader.mjs, its ESM loader
//   dist/bun-scanner.mjs  the Bun security scanner; dist/pnpmfile.cjs, the pnpm hook (afterAllResolved)
//   dist/worker.mjs       the Worker bundle the end-to-end tests and benchmarks load into Miniflare
//   dist/witness.mjs      the witness Worker (src/witness), likewise
import { build } from "esbuild";
import { chmodSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const node = { bundle: true, platform: "node", format: "esm", target: "node20", logLevel: "warning", absWorkingDir: root, define: { __COUNTERSIGN_VERSION__: JSON.stringify(version) } };
// Bundled CommonJS (semver) may call require() for Node built-ins: give the ESM bundle one.
const banner = { js: "#!/usr/bin/env node\nimport { createRequire as __countersignRequire } from 'node:module'; const require = __countersignRequire(import.meta.url);" };

await Promise.all([
  // Split: verify loads the lockfile parsers (most of the client) only when it has work to do.
  build({ ...node, entryPoints: { countersign: "scripts/cli/main.ts" }, outdir: "dist", splitting: true, chunkNames: "chunks/[name]-[hash]", outExtension: { ".js": ".mjs" }, banner }),
  build({ ...node, entryPoints: ["scripts/start.ts"], outfile: "dist/start.mjs", banner, external: ["miniflare"] }),
  build({ ...node, entryPoints: ["scripts/server/read-config.ts"], outfile: "dist/read-config.mjs", banner, external: ["wrangler"] }),
  build({ ...node, entryPoints: ["scripts/runtime/hook.ts"], outfile: "dist/hook.mjs", banner }),
  build({ ...node, entryPoints: ["scripts/runtime/loader.ts"], outfile: "dist/hook-loader.mjs", banner }),
  // The package-manager integrations: a Bun security scanner (runs in Bun) and a pnpm hook (CommonJS, loaded by pnpm's Node worker).
  build({ ...node, entryPoints: ["scripts/integrations/bun-scanner.ts"], outfile: "dist/bun-scanner.mjs", banner: { js: banner.js.replace("#!/usr/bin/env node\n", "") } }),
  build({ ...node, format: "cjs", entryPoints: ["scripts/integrations/pnpmfile.ts"], outfile: "dist/pnpmfile.cjs" }),
  ...[
    ["src/worker/index.ts", "dist/worker.mjs"],
    ["src/witness/index.ts", "dist/witness.mjs"],
  ].map(([entry, outfile]) =>
    build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      format: "esm",
      platform: "neutral",
      mainFields: ["module", "main"],
      conditions: ["workerd", "worker", "browser"],
      external: ["cloudflare:*"],
      logLevel: "warning",
      absWorkingDir: root,
    }),
  ),
]);
chmodSync(join(root, "dist/countersign.mjs"), 0o755);
