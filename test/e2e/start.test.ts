/**
 * `npm start` as a new user runs it and as a small team keeps it running: the Worker in workerd
 * (configured by Miniflare, then run on its own) on 127.0.0.1, local D1/R2 persisted in wrangler's layout, migrations applied
 * and recorded as wrangler records them, a development key in .dev.vars, the fingerprint
 * printed, the identity served; what was written survives a restart, nothing but the registry
 * listens, and a bad setting is one line and exit 1. (Local storage goes to a temporary
 * directory so the developer's own state is untouched.)
 */

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { openIdentity, WELL_KNOWN_PATH } from "../../src/core/index.js";
import { freePort } from "../helpers/cli.js";
import { ROOT } from "../helpers/paths.js";

const running = new Set<ChildProcess>();

afterEach(async () => {
  for (const child of running) await stop(child);
});

async function stop(child: ChildProcess): Promise<void> {
  running.delete(child);
  if (child.pid && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    process.kill(-child.pid, "SIGTERM");
    await exited;
  }
}

/** Starts dist/start.mjs; resolves with its banner once it printed the fingerprint. */
async function start(env: Record<string, string>): Promise<{ child: ChildProcess; banner: string }> {
  const child = spawn(process.execPath, [join(ROOT, "dist", "start.mjs")], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  running.add(child);
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const banner = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not become ready:\n${output}`)), 60_000);
    child.stdout!.on("data", () => {
      if (/admin token {2}cs_admin_\S+/.test(output)) {
        clearTimeout(timer);
        resolve(output);
      }
    });
    child.on("exit", (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
  });
  return { child, banner };
}

/** TCP sockets ("address:port", IPv4) the process tree of `pid` listens on (Linux /proc). */
function listeningSockets(pid: number): string[] {
  const tree = spawnSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" }).stdout.split(/\s+/).filter(Boolean).map(Number).concat(pid);
  const inodes = new Set<string>();
  for (const p of tree) {
    const fds = spawnSync("ls", ["-l", `/proc/${p}/fd`], { encoding: "utf8" }).stdout;
    for (const m of fds.matchAll(/socket:\[(\d+)\]/g)) inodes.add(m[1]!);
  }
  const sockets: string[] = [];
  for (const table of ["tcp", "tcp6"]) {
    for (const line of readFileSync(`/proc/net/${table}`, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] !== "0A" || !inodes.has(f[9]!)) continue;
      const [hexAddress, hexPort] = f[1]!.split(":") as [string, string];
      const address = table === "tcp" ? (hexAddress.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)).join(".") : `[${hexAddress}]`;
      sockets.push(`${address}:${parseInt(hexPort, 16)}`);
    }
  }
  return sockets;
}

it("npm start serves a verifiable identity document, persists across restarts, and stops cleanly", async () => {
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), "countersign-start-"));
  const env = { PORT: String(port), COUNTERSIGN_STATE_DIR: state, INSPECTOR_PORT: "" };
  const { child, banner } = await start(env);
  const fingerprint = /fingerprint {2}(SHA256:\S{43})/.exec(banner)![1]!;
  const adminToken = /admin token {2}(cs_admin_\S+)/.exec(banner)![1]!;
  expect(banner).toContain(`http://127.0.0.1:${port}`);
  expect(banner).not.toContain("inspector");

  const base = `http://127.0.0.1:${port}`;
  const opened = await openIdentity(await (await fetch(`${base}${WELL_KNOWN_PATH}`)).json(), [fingerprint]);
  expect(opened.ok).toBe(true);

  // The registry's port is the only TCP socket (Miniflare's entry socket and loopback are Unix
  // sockets: see the next test); no inspector unless INSPECTOR_PORT.
  expect(listeningSockets(child.pid!)).toEqual([`127.0.0.1:${port}`]);

  // Write something, restart on the same storage: it is still there, under the same key.
  const created = await fetch(`${base}/-/countersign/v1/admin/namespaces`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ namespace: "@persisted" }),
  });
  expect(created.status).toBe(201);
  await stop(child);
  await expect(fetch(`${base}${WELL_KNOWN_PATH}`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();

  const again = await start(env);
  expect(again.banner).toContain(fingerprint);
  const reopened = await openIdentity(await (await fetch(`${base}${WELL_KNOWN_PATH}`)).json(), [fingerprint]);
  expect(reopened.ok && reopened.value.document.namespaces).toContain("@persisted");
  await stop(again.child);

  // The migrations are recorded where wrangler looks, so wrangler's own tooling agrees.
  const listed = spawnSync(join(ROOT, "node_modules", ".bin", "wrangler"), ["d1", "migrations", "list", "DB", "--local", "--persist-to", state], {
    cwd: ROOT,
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(listed.stdout + listed.stderr).toContain("No migrations to apply");
});

/** The workerd process npm start runs, and its command line. */
function workerdOf(pid: number): { pid: number; args: string[] } {
  const children = spawnSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" }).stdout.split(/\s+/).filter(Boolean).map(Number);
  for (const child of children) {
    const args = readFileSync(`/proc/${child}/cmdline`, "utf8").split("\0");
    if (args[0]?.endsWith("workerd")) return { pid: child, args };
  }
  throw new Error(`no workerd under ${pid}`);
}

it("npm start runs workerd on its own: Miniflare's sockets private to this user, crons through them, and it stops when workerd does", async () => {
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), "countersign-start-"));
  const { child } = await start({ PORT: String(port), COUNTERSIGN_STATE_DIR: state, INSPECTOR_PORT: "" });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));

  // No Miniflare in the long-running process: its only child is workerd, with the V8 flags.
  const workerd = workerdOf(child.pid!);
  const entry = /^--socket-addr=entry=unix:(.+)$/.exec(workerd.args.find((a) => a.startsWith("--socket-addr=entry=")) ?? "")?.[1];
  expect(entry).toBeDefined();
  expect(workerd.args).toContain(`--socket-addr=direct:0:default=127.0.0.1:${port}`);
  expect(statSync(dirname(entry!)).mode & 0o777).toBe(0o700); // the entry socket fires crons at any time it is told: this user's only

  // The cron npm start fires once a minute, fired now the same way: the Worker's scheduled handler runs.
  const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest({ socketPath: entry, path: `/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("17 * * * *")}`, headers: { host: "localhost" } }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
  expect(answer).toEqual({ status: 200, body: "ok" });
  await expect.poll(() => output, { timeout: 5_000 }).toMatch(/blob gc: examined \d+/);

  // workerd gone (a crash, an OOM kill): npm start says so and exits non-zero, its directory removed.
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  process.kill(workerd.pid, "SIGKILL");
  expect(await exited).toBe(1);
  expect(output).toContain("npm start: workerd exited (SIGKILL); stopping");
  expect(existsSync(dirname(entry!))).toBe(false);
  running.delete(child);
});

it("npm start whose parent goes away while it is still starting (a crashed supervisor, a closed terminal) stops, and workerd with it", async () => {
  const port = await freePort();
  const state = mkdtempSync(join(tmpdir(), "countersign-start-"));
  // A parent that starts npm start with its output piped to itself, then exits a second later,
  // while npm start is still preparing (one that exits before npm start has even read its
  // parent cannot be told from init, which may be a service's legitimate parent).
  const parent = spawnSync(
    process.execPath,
    ["-e", `const c = require("node:child_process").spawn(process.execPath, [${JSON.stringify(join(ROOT, "dist", "start.mjs"))}], { stdio: ["ignore", "pipe", "pipe"] }); console.log(c.pid); setTimeout(() => process.exit(0), 1000);`],
    { cwd: ROOT, env: { ...process.env, PORT: String(port), COUNTERSIGN_STATE_DIR: state, INSPECTOR_PORT: "" }, encoding: "utf8" },
  );
  const pid = Number(parent.stdout.trim());
  expect(pid).toBeGreaterThan(0);
  // Running, not a zombie its new parent has not reaped (/proc/<pid>/stat: the state after the name).
  const alive = (p: number) => {
    try {
      return !/\) Z /.test(readFileSync(`/proc/${p}/stat`, "utf8"));
    } catch {
      return false;
    }
  };
  await expect.poll(() => alive(pid), { timeout: 60_000, interval: 250 }).toBe(false);
  const workerds = spawnSync("pgrep", ["-f", `127.0.0.1:${port}`], { encoding: "utf8" }).stdout.trim();
  expect(workerds).toBe("");
}, 90_000);

async function refusal(env: Record<string, string>): Promise<{ code: unknown; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, "dist", "start.mjs")], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise((resolve) => child.on("exit", resolve));
  return { code, stderr };
}

it("npm start refuses a bad setting or a taken port in one line, before starting anything", async () => {
  expect(await refusal({ PORT: "99999" })).toEqual({ code: 1, stderr: 'npm start: PORT must be a port number (1-65535), not "99999"\n' });
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  const port = (taken.address() as AddressInfo).port;
  try {
    expect(await refusal({ PORT: String(port) })).toEqual({ code: 1, stderr: `npm start: port ${port} on 127.0.0.1 is in use (another registry already running?); stop it or set PORT to another port\n` });
  } finally {
    taken.close();
  }
});
