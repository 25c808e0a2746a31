/**
 * @module
 * `npm start`: the registry on 127.0.0.1 with local R2 and D1, from a fresh clone.
 *
 * 1. Creates `.dev.vars` (mode 0600, gitignored) with a development signing key and admin token
 *    on first run; later runs reuse them, so the fingerprint stays the same.
 * 2. Applies D1 migrations to the local database.
 * 3. Runs `wrangler dev` on 127.0.0.1 with wrangler's telemetry off and REGISTRY_ORIGIN set to
 *    its own address (the Worker signs nothing without it, and never a request's Host), waits
 *    until the identity document verifies under the key from `.dev.vars` and names that origin,
 *    and prints the fingerprint and token.
 *
 * Environment: PORT (8787), INSPECTOR_PORT (9229), COUNTERSIGN_STATE_DIR (local storage
 * directory, default .wrangler/state), REGISTRY_ORIGIN (default http://127.0.0.1:PORT; set it
 * when clients reach this registry under another address, e.g. through a tunnel).
 */

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { fromBase64, generateKeyPair, keyPairFromSeed, openIdentity, randomBytes, SEED_LENGTH, toBase64, toBase64Url, WELL_KNOWN_PATH } from "../src/core/index.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = join(root, "node_modules", ".bin", "wrangler");
const port = process.env.PORT ?? "8787";
const inspectorPort = process.env.INSPECTOR_PORT ?? "9229";
const stateDir = process.env.COUNTERSIGN_STATE_DIR;
if (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) die(`PORT must be a port number (1-65535), not "${port.slice(0, 40)}"`);
const origin = originFrom(process.env.REGISTRY_ORIGIN || `http://127.0.0.1:${port}`);
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_ERROR_REPORTS: "false" };

function die(message: string): never {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(1);
}

/** The origin the registry signs with; wrangler's `--var` wins over wrangler.toml and `.dev.vars`. */
function originFrom(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === "http:" || url.protocol === "https:") return url.origin;
  } catch {
    // reported below
  }
  return die(`REGISTRY_ORIGIN must be an http(s) URL, not "${value.slice(0, 80)}"`);
}

/** Reads `.dev.vars`, adding a signing key and admin token if missing. Never prints the key. */
async function ensureDevVars(): Promise<{ seed: Uint8Array; adminToken: string; created: boolean }> {
  const path = join(root, ".dev.vars");
  const text = existsSync(path) ? readFileSync(path, "utf8") : "";
  const vars = new Map(
    text
      .split("\n")
      .map((line) => /^\s*([A-Z_][A-Z0-9_]*)\s*=\s*"?([^"\n]*)"?\s*$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!] as const),
  );
  const additions: string[] = [];
  if (!vars.has("REGISTRY_SIGNING_KEY")) {
    const pair = await generateKeyPair();
    vars.set("REGISTRY_SIGNING_KEY", toBase64(pair.seed));
    additions.push(`# development signing key, made by npm start on ${new Date().toISOString()}`, `REGISTRY_SIGNING_KEY="${vars.get("REGISTRY_SIGNING_KEY")}"`);
  }
  if (!vars.has("ADMIN_TOKEN")) {
    vars.set("ADMIN_TOKEN", `cs_admin_${toBase64Url(randomBytes(24))}`);
    additions.push(`ADMIN_TOKEN="${vars.get("ADMIN_TOKEN")}"`);
  }
  if (additions.length) {
    writeFileSync(path, `${text}${text && !text.endsWith("\n") ? "\n" : ""}${additions.join("\n")}\n`, { mode: 0o600 });
    chmodSync(path, 0o600);
  }
  const seed = fromBase64(vars.get("REGISTRY_SIGNING_KEY")!.trim());
  if (!seed || seed.length !== SEED_LENGTH) die(".dev.vars: REGISTRY_SIGNING_KEY is not base64 of a 32-byte seed (delete the line to make a new key)");
  return { seed, adminToken: vars.get("ADMIN_TOKEN")!, created: additions.length > 0 };
}

function applyMigrations(): void {
  const args = ["d1", "migrations", "apply", "DB", "--local", ...(stateDir ? ["--persist-to", stateDir] : [])];
  const result = spawnSync(wrangler, args, { cwd: root, env: { ...env, CI: "true" }, encoding: "utf8", timeout: 120_000 });
  if (result.status !== 0) die(`applying migrations failed:\n${result.stdout}\n${result.stderr}`);
}

async function waitForIdentity(child: ChildProcess, url: string, expected: string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) die(`wrangler dev exited with code ${child.exitCode}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (response.ok) {
        const opened = await openIdentity(await response.json(), [expected]);
        if (!opened.ok) die(`the running registry's identity does not verify: ${opened.error}`);
        if (opened.value.document.origin !== origin) die(`the running registry signs origin ${opened.value.document.origin}, expected ${origin}`);
        return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  die("the registry did not start within 90 s");
}

const { seed, adminToken, created } = await ensureDevVars();
const { keyid } = await keyPairFromSeed(seed);
applyMigrations();

const args = [
  "dev",
  "--ip",
  "127.0.0.1",
  "--port",
  port,
  "--inspector-port",
  inspectorPort,
  "--show-interactive-dev-session=false",
  "--var",
  `REGISTRY_ORIGIN:${origin}`,
  ...(stateDir ? ["--persist-to", stateDir] : []),
];
// Own process group, so stopping npm start stops workerd too (killing wrangler alone leaves it).
const child = spawn(wrangler, args, { cwd: root, env, stdio: ["ignore", "inherit", "inherit"], detached: true });
const stop = () => {
  try {
    process.kill(-child.pid!, "SIGTERM");
  } catch {
    // already gone
  }
};
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => {
  stop();
  process.exit(130);
});
process.on("exit", stop);
child.on("exit", (code) => process.exit(code ?? 1));
// If whatever started us goes away without signalling us (`kill <npm pid>` stops npm and its
// shell, not this process), we are re-parented: stop the registry rather than leak it.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) {
    stop();
    process.exit(1);
  }
}, 1000).unref();

const local = `http://127.0.0.1:${port}`;
await waitForIdentity(child, `${local}${WELL_KNOWN_PATH}`, keyid);
process.stdout.write(
  [
    "",
    `countersign registry running at ${local}${origin === local ? "" : ` (signing as ${origin})`}`,
    `  fingerprint  ${keyid}`,
    `  admin token  ${adminToken}   (local development only, from .dev.vars${created ? ", just created" : ""})`,
    `  storage      ${stateDir ?? join(root, ".wrangler", "state")}`,
    "",
    "Next (see README › Quick start):",
    `  export COUNTERSIGN_REGISTRY=${origin} COUNTERSIGN_ADMIN_TOKEN=${adminToken}`,
    "  npx countersign admin namespace add @acme",
    "",
  ].join("\n"),
);
