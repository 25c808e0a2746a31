/**
 * @module
 * countersign as a team runs it: `npm start`'s server (dist/start.mjs: the Worker in workerd
 * configured by Miniflare, storage persisted on disk) on a free port of 127.0.0.1 with its own state
 * directory, for end-to-end tests and benchmarks. Stopped by its PID (SIGTERM, then SIGKILL).
 */

import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { cleanEnv, freePort } from "./cli.js";
import { ROOT } from "./paths.js";

export interface LocalServer {
  url: string;
  fingerprint: string;
  adminToken: string;
  /** npm start's process; workerd is its child. */
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts dist/start.mjs with its storage under `stateDir`; resolves once it printed its banner. */
export async function startLocalServer(stateDir: string): Promise<LocalServer> {
  mkdirSync(stateDir, { recursive: true });
  const port = await freePort();
  // The flags `npm start` uses (package.json): the supervising Node process does no request work.
  const child = spawn(process.execPath, ["--optimize-for-size", "--max-semi-space-size=1", join(ROOT, "dist", "start.mjs")], {
    cwd: ROOT,
    env: { ...cleanEnv(), PORT: String(port), COUNTERSIGN_STATE_DIR: stateDir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (output += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (output += d));
  const stop = () => stopChild(child, 10_000);
  const deadline = Date.now() + 60_000;
  while (!/admin token {2}\S+/.test(output)) {
    if (child.exitCode !== null) throw new Error(`npm start exited (${child.exitCode}):\n${output}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`npm start did not become ready within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `http://127.0.0.1:${port}`,
    fingerprint: /fingerprint {2}(\S+)/.exec(output)![1]!,
    adminToken: /admin token {2}(\S+)/.exec(output)![1]!,
    child,
    stop,
  };
}


/** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
