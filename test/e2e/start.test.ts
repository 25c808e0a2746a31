/**
 * `npm start` as a new user runs it: wrangler dev on 127.0.0.1 with local D1/R2, migrations
 * applied, a development key in .dev.vars, the fingerprint printed and the identity served.
 * (Local storage goes to a temporary directory so the developer's own state is untouched.)
 */

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { openIdentity, WELL_KNOWN_PATH } from "../../src/core/index.js";
import { freePort } from "../helpers/cli.js";
import { ROOT } from "../helpers/paths.js";

let child: ChildProcess | undefined;

afterAll(async () => {
  if (child?.pid && child.exitCode === null) {
    process.kill(-child.pid, "SIGTERM");
    await new Promise((resolve) => child!.once("exit", resolve));
  }
});

it("npm start serves a verifiable identity document and prints its fingerprint", async () => {
  const [port, inspectorPort] = await Promise.all([freePort(), freePort()]);
  const state = mkdtempSync(join(tmpdir(), "countersign-start-"));
  child = spawn(process.execPath, [join(ROOT, "dist", "start.mjs")], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), INSPECTOR_PORT: String(inspectorPort), COUNTERSIGN_STATE_DIR: state },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const banner = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not become ready:\n${output}`)), 150_000);
    const check = () => {
      if (/fingerprint {2}SHA256:\S{43}/.test(output)) {
        clearTimeout(timer);
        resolve(output);
      }
    };
    child!.stdout!.on("data", check);
    child!.on("exit", (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
  });
  const fingerprint = /fingerprint {2}(SHA256:\S{43})/.exec(banner)![1]!;
  expect(banner).toContain(`http://127.0.0.1:${port}`);
  expect(banner).toMatch(/admin token {2}cs_admin_/);

  const response = await fetch(`http://127.0.0.1:${port}${WELL_KNOWN_PATH}`);
  const opened = await openIdentity(await response.json(), [fingerprint]);
  expect(opened.ok).toBe(true);

  // Stopping npm start stops workerd too: the port is released.
  process.kill(-child.pid!, "SIGTERM");
  await new Promise((resolve) => child!.once("exit", resolve));
  await expect(fetch(`http://127.0.0.1:${port}${WELL_KNOWN_PATH}`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
});
