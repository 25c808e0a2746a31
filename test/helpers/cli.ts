/** Runs the built client (dist/countersign.mjs) as a user would, with a time limit. */

import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLI } from "./paths.js";

/**
 * Where the client keeps the transparency logs' last checkpoints in tests: one directory per test
 * file, never the user's. Test registries that share a key (npm start's .dev.vars) run different
 * logs, which one machine's stored view would rightly call a split view.
 */
const LOG_STATE_DIR = mkdtempSync(join(tmpdir(), "countersign-log-state-"));

/**
 * The environment without the `npm_config_*` variables that an outer `npm test` exports: they
 * would override the consumer project's own .npmrc, which is what each scenario is about.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { COUNTERSIGN_LOG_STATE_DIR: LOG_STATE_DIR };
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_(config|package|lifecycle)_/i.test(key)) env[key] = value;
  return { ...env, ...extra };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: options.cwd, env: cleanEnv(options.env as Record<string, string>), timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 99) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

export async function runJson<T>(args: string[], options: Parameters<typeof runCli>[1] = {}): Promise<T> {
  const result = await runCli([...args, "--json"], options);
  if (result.code !== 0) throw new Error(`countersign ${args.join(" ")} failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
