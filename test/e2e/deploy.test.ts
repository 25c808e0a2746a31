/**
 * What `npm run deploy` would upload, built without Cloudflare: `wrangler deploy --dry-run` for the
 * registry (wrangler.toml) and the witness (witness.wrangler.toml) validates each configuration and
 * bundles its Worker into a temporary directory. It must need no network and no account: no
 * credentials are passed, telemetry, error reports, the update check and cf.fetch are off, a proxy
 * that refuses every connection is set, and where the kernel allows it (`unshare -rn`) wrangler runs
 * in a network namespace with no interface but loopback. The gzip size of each bundle is printed.
 */

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, expect, it } from "vitest";
import { ROOT } from "../helpers/paths.js";

const WRANGLER = join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");
const work = mkdtempSync(join(tmpdir(), "countersign-deploy-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** No network at all where user namespaces are available (Linux); otherwise only the guards below. */
const OFFLINE = spawnSync("unshare", ["-rn", "true"]).status === 0;

function env(): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(e)) if (name.startsWith("CLOUDFLARE_") || name.startsWith("CF_")) delete e[name];
  return {
    ...e,
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_SEND_ERROR_REPORTS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_HIDE_BANNER: "true", // the banner is what runs the update check against the npm registry
    HTTPS_PROXY: "http://127.0.0.1:9",
    HTTP_PROXY: "http://127.0.0.1:9",
    NO_COLOR: "1",
  };
}

function dryRun(config: string, outdir: string): { status: number | null; output: string } {
  const args = [WRANGLER, "deploy", "--dry-run", "--outdir", outdir, "-c", join(ROOT, config)];
  const [command, argv] = OFFLINE ? ["unshare", ["-rn", process.execPath, ...args]] : [process.execPath, args];
  const run = spawnSync(command, argv, { cwd: ROOT, env: env(), encoding: "utf8", timeout: 110_000 });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

for (const [config, exported] of [
  ["wrangler.toml", /export \{[^}]*\bLogSequencer\b[^}]*\}/],
  ["witness.wrangler.toml", /export \{[^}]*\bdefault\b[^}]*\}/],
] as const) {
  it(`wrangler deploy --dry-run -c ${config} bundles the Worker offline`, { timeout: 120_000 }, () => {
    const outdir = join(work, config.replace(/\W+/g, "-"));
    const { status, output } = dryRun(config, outdir);
    expect(status, output).toBe(0);
    expect(output).toContain("--dry-run: exiting now.");
    expect(output, "wrangler warned about the configuration").not.toMatch(/\[WARNING\]|\[ERROR\]/);
    const bundle = join(outdir, "index.js");
    expect(existsSync(bundle)).toBe(true);
    const bytes = readFileSync(bundle);
    expect(bytes.toString("utf8")).toMatch(exported);
    const gzip = gzipSync(bytes, { level: 9 }).length;
    const reported = /Total Upload: ([\d.]+ KiB) \/ gzip: ([\d.]+ KiB)/.exec(output);
    console.log(
      `${config}: bundle ${(bytes.length / 1024).toFixed(1)} KiB, gzip ${(gzip / 1024).toFixed(1)} KiB` +
        (reported ? ` (wrangler: ${reported[1]} / gzip ${reported[2]})` : "") +
        (OFFLINE ? ", built with no network" : ""),
    );
    // The Free plan's Worker size limit is 3 MB after compression; stay far below it.
    expect(gzip).toBeLessThan(1024 * 1024);
  });
}
