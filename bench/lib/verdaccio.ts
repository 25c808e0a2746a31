/**
 * @module
 * Verdaccio, the peer: installed once into bench/.work/verdaccio/ (the only step that uses the
 * network), started on 127.0.0.1 with `uplinks: {}`, htpasswd auth and JWT API tokens, and
 * given the same tarballs with the request `npm publish` sends.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanEnv, freePort } from "../../test/helpers/cli.js";
import { stopChild } from "../../test/helpers/local-server.js";
import type { Tarball } from "./packages.js";
import { log, mustExec, pool } from "./util.js";

export { stopChild };

export const VERDACCIO_VERSION = "6.8.0";

export interface Verdaccio {
  url: string;
  child: ChildProcess;
  logFile: string;
}

/** Verdaccio's bin, installing it into `home` first if needed. */
export async function ensureVerdaccio(home: string): Promise<string> {
  const bin = join(home, "node_modules", "verdaccio", "bin", "verdaccio");
  const installed = join(home, "node_modules", "verdaccio", "package.json");
  if (existsSync(installed) && (JSON.parse(readFileSync(installed, "utf8")) as { version: string }).version === VERDACCIO_VERSION) return bin;
  log(`installing Verdaccio ${VERDACCIO_VERSION} into ${home} (once; uses the npm registry)…`);
  mkdirSync(home, { recursive: true });
  writeFileSync(
    join(home, "package.json"),
    `${JSON.stringify({ name: "bench-verdaccio", private: true, dependencies: { verdaccio: VERDACCIO_VERSION }, overrides: { "node-fetch": "2.7.0" } }, null, 2)}\n`,
  );
  await mustExec("npm", ["install", "--no-audit", "--no-fund", "--no-update-notifier"], home, 600_000);
  return bin;
}

export async function startVerdaccio(run: string, bin: string): Promise<Verdaccio> {
  const home = join(run, "verdaccio");
  mkdirSync(join(home, "storage"), { recursive: true });
  const port = await freePort();
  const config = join(home, "config.yaml");
  writeFileSync(
    config,
    [
      `storage: ${JSON.stringify(join(home, "storage"))}`,
      `auth:`,
      `  htpasswd:`,
      `    file: ${JSON.stringify(join(home, "htpasswd"))}`,
      `    max_users: 10`,
      `uplinks: {}`,
      `packages:`,
      `  '@*/*':`,
      `    access: $all`,
      `    publish: $authenticated`,
      `  '**':`,
      `    access: $all`,
      `    publish: $authenticated`,
      // API tokens as JWTs: the legacy (AES) token makes Verdaccio re-check the htpasswd
      // bcrypt hash on every authenticated request.
      `security:`,
      `  api:`,
      `    jwt:`,
      `      sign:`,
      `        expiresIn: 1d`,
      `server:`,
      `  keepAliveTimeout: 60`,
      `max_body_size: 50mb`,
      `log: { type: stdout, format: pretty, level: warn }`,
      ``,
    ].join("\n"),
  );
  const logFile = join(home, "verdaccio.log");
  const fd = openSync(logFile, "w");
  const child = spawn(process.execPath, [bin, "--config", config, "--listen", `127.0.0.1:${port}`], { cwd: home, env: cleanEnv(), stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Verdaccio exited (${child.exitCode}) on start:\n${readFileSync(logFile, "utf8").slice(-3000)}`);
    try {
      if ((await fetch(`${url}/-/ping`)).ok) return { url, child, logFile };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`Verdaccio did not answer /-/ping within 30 s:\n${readFileSync(logFile, "utf8").slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** npm's legacy adduser (`PUT /-/user/org.couchdb.user:<name>`), which Verdaccio's htpasswd answers with a token. */
async function verdaccioToken(url: string): Promise<string> {
  const name = "bench";
  const response = await fetch(`${url}/-/user/org.couchdb.user:${name}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ _id: `org.couchdb.user:${name}`, name, password: `bench-${Math.random().toString(36).slice(2)}`, type: "user", roles: [], date: new Date().toISOString() }),
  });
  const body = (await response.json()) as { token?: string };
  if (!response.ok || !body.token) throw new Error(`Verdaccio adduser: ${response.status} ${JSON.stringify(body)}`);
  return body.token;
}

/** The request `npm publish <tarball>` sends (libnpmpublish), for each tarball; returns the wall time. */
export async function publishToVerdaccio(url: string, tarballs: Tarball[], concurrency: number): Promise<number> {
  const start = performance.now();
  const token = await verdaccioToken(url);
  await pool(tarballs, concurrency, async (t) => {
    const short = t.name.replace(/^@[^/]+\//, "");
    const body = {
      _id: t.name,
      name: t.name,
      description: t.manifest.description,
      "dist-tags": { latest: "1.0.0" },
      versions: {
        "1.0.0": { ...t.manifest, _id: `${t.name}@1.0.0`, dist: { integrity: t.integrity, shasum: t.sha1, tarball: `${url}/${t.name}/-/${short}-1.0.0.tgz` } },
      },
      access: null,
      _attachments: { [`${t.name}-1.0.0.tgz`]: { content_type: "application/octet-stream", data: Buffer.from(t.bytes).toString("base64"), length: t.bytes.length } },
    };
    const response = await fetch(`${url}/${encodeURIComponent(t.name)}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "npm-command": "publish" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`Verdaccio publish ${t.name}: ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
  });
  return performance.now() - start;
}
