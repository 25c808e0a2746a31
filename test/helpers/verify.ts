/**
 * @module
 * The consumer side of the end-to-end stories: the pins a team's consumers commit, and
 * `countersign verify --json` run in a project with its report parsed.
 */

import { runCli } from "./cli.js";
import type { TestRegistry } from "./registry.js";

/** @acme pinned to the team's registry key; any other scope rejected; unscoped names allowed. */
export function teamPins(team: TestRegistry, url: string = team.url) {
  return {
    version: 1,
    registries: { team: { url, fingerprints: [team.key.keyid] } },
    namespaces: { "@acme": "team", "@*": "reject", "*": "allow" },
  };
}

export interface ReportedFailure {
  layer: string;
  code: string;
  namespace: string;
  message: string;
  rule?: string;
  expected?: string;
  actual?: string;
}

export interface VerifyReport {
  ok: boolean;
  exitCode: number;
  cached?: boolean;
  lockfiles: string[];
  notes: string[];
  summary: { total: number; verified: number; unverified: number; failed: number; unavailable: number };
  packages: { name: string; version: string; status: string; location: string; installedAs: string[]; kind: string; lockfile: string; message?: string; failure?: ReportedFailure }[];
}

/** `countersign verify --json` in `dir`: its exit code and parsed report. */
export async function verifyJson(dir: string, options: { args?: string[]; env?: Record<string, string> } = {}): Promise<{ code: number; report: VerifyReport; stderr: string }> {
  const result = await runCli(["verify", "--json", ...(options.args ?? [])], { cwd: dir, ...(options.env ? { env: options.env } : {}) });
  let report: VerifyReport;
  try {
    report = JSON.parse(result.stdout) as VerifyReport;
  } catch {
    throw new Error(`verify printed no report (exit ${result.code}): ${result.stderr}`);
  }
  return { code: result.code, report, stderr: result.stderr };
}
