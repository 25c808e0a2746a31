/**
 * Three projects in one run:
 *   unit    the protocol core and the client's parsers, in Node
 *   worker  the Worker inside workerd with real (local) D1 and R2 (@cloudflare/vitest-pool-workers)
 *   e2e     real processes on 127.0.0.1: Miniflare-hosted registries, `npm start`, the CLI, npm, pnpm, yarn, bun
 */
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

// Fixed test-only secrets: a fresh clone has no .dev.vars, and these override it if present.
export const TEST_SIGNING_KEY = "dGVzdC1vbmx5IHNpZ25pbmcga2V5IC0gbm90IHNlY3I="; // 32 bytes
export const TEST_ADMIN_TOKEN = "cs_admin_test_token";

export default defineConfig({
  test: {
    reporters: process.env.CI ? ["default", ["json", { outputFile: "test-results.json" }]] : ["default"],
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
    ],
  },
});
