/**
 * @module
 * A real countersign registry for end-to-end tests: the bundled Worker (dist/worker.mjs, built
 * by `npm test`) in workerd via Miniflare, listening on 127.0.0.1 with in-memory R2 and D1 and
 * the migrations applied. `stop()` disposes of it (and its workerd process).
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { generateKeyPair, toBase64, type KeyPair } from "../../src/core/index.js";
import { freePort } from "./cli.js";
import { ROOT } from "./paths.js";

export interface TestRegistry {
  url: string;
  key: KeyPair;
  adminToken: string;
  mf: Miniflare;
  stop(): Promise<void>;
}

/** The statements of every migration, in order (comments removed, split on `;`). */
export function migrationStatements(): string[] {
  const dir = join(ROOT, "migrations");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".sql"))
    .sort()
    .flatMap((f) =>
      readFileSync(join(dir, f), "utf8")
        .replace(/--.*$/gm, "")
        .split(/;\s*$/m)
        .map((s) => s.trim())
        .filter(Boolean),
    );
}

/** `port`: listen there (its origin is known before it starts, e.g. for a witness to be told its log key). */
export async function startRegistry(options: { name?: string; key?: KeyPair; vars?: Record<string, string>; port?: number } = {}): Promise<TestRegistry> {
  const key = options.key ?? (await generateKeyPair());
  const adminToken = `cs_admin_test_${Math.random().toString(36).slice(2)}`;
  if (options.port !== undefined) return startOn(options.port, key, adminToken, options);
  // The registry signs only with REGISTRY_ORIGIN set, so its port is chosen first; a port taken
  // in between (another process got it) is retried with a fresh one.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await startOn(port, key, adminToken, options);
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

async function startOn(port: number, key: KeyPair, adminToken: string, options: { name?: string; vars?: Record<string, string> }): Promise<TestRegistry> {
  const origin = `http://127.0.0.1:${port}`;
  const mf = new Miniflare({
    host: "127.0.0.1",
    port,
    modules: true,
    scriptPath: join(ROOT, "dist", "worker.mjs"),
    compatibilityDate: "2026-04-20",
    d1Databases: ["DB"],
    r2Buckets: ["ARTIFACTS"],
    durableObjects: { LOG: { className: "LogSequencer", useSQLite: true } },
    bindings: {
      REGISTRY_NAME: options.name ?? "countersign-test",
      REGISTRY_SIGNING_KEY: toBase64(key.seed),
      ADMIN_TOKEN: adminToken,
      REGISTRY_ORIGIN: origin,
      ...options.vars,
    },
  });
  let url: string;
  try {
    url = (await mf.ready).href.replace(/\/$/, "");
  } catch (err) {
    await mf.dispose().catch(() => undefined);
    throw err;
  }
  const db = await mf.getD1Database("DB");
  await db.batch(migrationStatements().map((s) => db.prepare(s)));
  return { url, key, adminToken, mf, stop: () => mf.dispose() };
}
