/**
 * @module
 * Small utilities the benchmarks share: logging, medians, child processes without npm's
 * exported variables, a concurrency pool, and CPU time and memory of a process tree from /proc.
 */

import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { cleanEnv } from "../../test/helpers/cli.js";

export const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
export const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface Exec {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs a command without the `npm_config_*` / `npm_package_*` / `npm_lifecycle_*` variables an
 * outer `npm run` exports (they would override the consumer projects' own .npmrc).
 */
export function exec(command: string, args: string[], cwd: string, timeoutMs = 300_000): Promise<Exec> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(command, args, { cwd, env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 99), stdout, stderr, ms: performance.now() - start });
    });
  });
}

export async function mustExec(command: string, args: string[], cwd: string, timeoutMs?: number): Promise<Exec> {
  const result = await exec(command, args, cwd, timeoutMs);
  if (result.code !== 0) throw new Error(`${command} ${args.slice(0, 4).join(" ")}… in ${cwd} exited ${result.code}:\n${(result.stderr || result.stdout).slice(-4000)}`);
  return result;
}

/** Runs `task` over `items`, `limit` at a time. */
export async function pool<T>(items: T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** `/proc/<pid>/stat` fields from 3 (state) on, or undefined if the process is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** The process and all its descendants (Linux; just the process elsewhere). */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      const ppid = Number(statFields(Number(entry))?.[1]);
      if (!Number.isFinite(ppid)) continue;
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    }
  } catch {
    return [pid];
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const next = queue.shift()!;
    tree.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return tree;
}

/**
 * CPU time (user + system, ms) a process tree has used so far, from /proc (Linux); undefined
 * elsewhere. On a small machine clients and the registry share the cores, so the registry's CPU
 * is part of what the wall time measures.
 */
export function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  let total = 0;
  for (const p of processTree(pid)) {
    const fields = statFields(p);
    if (!fields) continue;
    total += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
  }
  return total;
}

/** Resident memory (bytes) of a process tree: the sum of VmRSS over the process and its descendants. */
export function rssBytes(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, "utf8"));
      if (m) total += Number(m[1]) * 1024;
    } catch {
      // gone
    }
  }
  return total;
}

/** What `runBenchmark` undoes at the end, on failure, or on SIGINT/SIGTERM (servers to stop), last first. */
export const cleanups: (() => Promise<void>)[] = [];

export async function cleanup(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!().catch((error: unknown) => log(`cleanup: ${String(error)}`));
}

/** Runs a benchmark's main: failures are one line (with the stack) and exit 1; servers are always stopped. */
export async function runBenchmark(main: () => Promise<void>): Promise<void> {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the registries`);
      void cleanup().then(() => process.exit(130));
    });
  }
  try {
    await main();
  } catch (error) {
    process.exitCode = 1;
    process.stderr.write(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  } finally {
    await cleanup();
  }
}
