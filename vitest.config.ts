/**
 * Four projects in one run:
 *   unit    the protocol core and the client's parsers, in Node
 *   worker  the Worker inside workerd with real (local) D1 and R2 (@cloudflare/vitest-pool-workers)
 *   witness the witness Worker (src/witness, witness.wrangler.toml) inside workerd with real (local) D1
 *   e2e     real processes on 127.0.0.1: Miniflare-hosted registries, `npm start`, the CLI, npm, pnpm, yarn, bun
 * and a fifth, only for `npm run test:browser` (it needs Chromium; see below):
 *   browser the web UI in headless Chromium against a Miniflare-hosted registry
 */
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Fixed test-only secrets: a fresh clone has no .dev.vars, and these override it if present.
export const TEST_SIGNING_KEY = "dGVzdC1vbmx5IHNpZ25pbmcga2V5IC0gbm90IHNlY3I="; // 32 bytes
export const TEST_ADMIN_TOKEN = "cs_admin_test_token";
// The npm signing key (NPM_SIGNING_KEY: base64 PKCS#8 DER of a test-only ECDSA P-256 key). Set here
// because `npm start` writes one into .dev.vars, which the worker tests would otherwise pick up.
export const TEST_NPM_SIGNING_KEY =
  "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgnv7s92cQ3rkt7PYcCpFwQ8iwl7lmSM+FourGUaTFW+qhRANCAAQ0wB6jUeoOayBQ4G5v/TlZDte5z8pIfNoOUapYWFWIdtRwiMEOo3LvA8zyf6ZELKfGdVMyoyLwvYzKONx5W+2S";
// The witness's: "test-only witness key, not secre" (32 bytes), and the logs it knows, all keys from
// fixed test seeds (test/witness/helpers.ts: LOG_SEED 0x01 for every origin, 0x03 for rotating.test's second key).
export const TEST_WITNESS_SIGNING_KEY = "dGVzdC1vbmx5IHdpdG5lc3Mga2V5LCBub3Qgc2VjcmU=";
export const TEST_WITNESS_LOGS = [
  "registry.test/-/countersign/v1/log+f4274f77+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c",
  "a.test/log+c33add61+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c",
  "b.test/log+1bc67d56+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c",
  "c.test/log+8546e1ee+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c",
  "rotating.test/log+1dc13e49+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c",
  "rotating.test/log+8c07f83c+Ae1JKMYo0cLG6ukDOJBZlWEpWSc6XGP5NjbBRhSshzfR",
];

const BROWSER_TESTS =
  process.env.COUNTERSIGN_BROWSER_TESTS === "1" || process.argv.includes("--project=browser") || process.argv.some((arg, i) => arg === "browser" && process.argv[i - 1] === "--project");

export default defineConfig({
  test: {
    reporters: process.env.CI ? ["default", ["json", { outputFile: process.env.COUNTERSIGN_TEST_RESULTS || "test-results.json" }]] : ["default"],
    projects: [
      {
        test: { name: "unit", include: ["test/core/**/*.test.ts", "test/cli/**/*.test.ts"], environment: "node" },
      },
      {
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                REGISTRY_SIGNING_KEY: TEST_SIGNING_KEY,
                ADMIN_TOKEN: TEST_ADMIN_TOKEN,
                NPM_SIGNING_KEY: TEST_NPM_SIGNING_KEY,
                // The origin test/worker/helpers.ts sends requests to; without it nothing is signed.
                REGISTRY_ORIGIN: "http://registry.test",
                MAX_ARTIFACT_BYTES: "1048576",
                TEST_MIGRATIONS: await readD1Migrations("./migrations"),
              },
            },
          })),
        ],
        test: { name: "worker", include: ["test/worker/**/*.test.ts"], setupFiles: ["test/worker/setup.ts"] },
      },
      {
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: "./witness.wrangler.toml" },
            miniflare: {
              bindings: {
                WITNESS_SIGNING_KEY: TEST_WITNESS_SIGNING_KEY,
                WITNESS_NAME: "witness.test",
                // Newlines and a comma, comments and a repeat: the separators the README documents.
                WITNESS_LOGS: `# test logs\n${TEST_WITNESS_LOGS.slice(0, 2).join(",")}\n${TEST_WITNESS_LOGS.slice(2).join("\n")}\n${TEST_WITNESS_LOGS[0]}\n`,
                TEST_MIGRATIONS: await readD1Migrations("./migrations-witness"),
              },
            },
          })),
        ],
        test: { name: "witness", include: ["test/witness/**/*.test.ts"], setupFiles: ["test/witness/setup.ts"] },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Real processes (workerd, npm, pnpm) on 2 cores: one file at a time keeps timings sane.
          fileParallelism: false,
        },
      },
      // browser: the web UI in real headless Chromium (Debian's /usr/bin/chromium, driven by
      // playwright-core) against a Miniflare-hosted registry. Defined only when asked for, by
      // COUNTERSIGN_BROWSER_TESTS=1 (which `npm run test:browser` sets) or `--project browser` on
      // the command line: a plain `vitest run` or `npm test` on a machine without Chromium never
      // sees it. (Asked for with no Chromium installed, it fails; it never skips.)
      ...(BROWSER_TESTS
        ? [
            {
              test: {
                name: "browser",
                include: ["test/browser/**/*.test.ts"],
                environment: "node",
                testTimeout: 120_000,
                hookTimeout: 180_000,
                // One Chromium and one workerd at a time on 2 cores.
                fileParallelism: false,
              },
            },
          ]
        : []),
    ],
  },
});
