/**
 * @module
 * A real witness (src/witness, bundled as dist/witness.mjs) for end-to-end tests: workerd via
 * Miniflare on 127.0.0.1, in-memory D1 with migrations-witness applied.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { generateKeyPair, toBase64 } from "../../src/core/index.js";
import { freePort } from "./cli.js";
import { ROOT } from "./paths.js";

export interface TestWitness {
  url: string;
  name: string;
  /** Its cosignature verifier key (type 0x04), as `GET /` prints it. */
  vkey: string;
  mf: Miniflare;
  stop(): Promise<void>;
}

/** Starts a witness named `name` that cosigns the logs whose note verifier keys are `logs`. */
export async function startWitness(name: string, logs: string[]): Promise<TestWitness> {
  const port = await freePort();
  const mf = new Miniflare({
    host: "127.0.0.1",
    port,
    modules: true,
    scriptPath: join(ROOT, "dist", "witness.mjs"),
    compatibilityDate: "2026-04-20",
    d1Databases: ["DB"],
    bindings: { WITNESS_SIGNING_KEY: toBase64((await generateKeyPair()).seed), WITNESS_NAME: name, WITNESS_LOGS: logs.join("\n") },
  });
  try {
    const url = (await mf.ready).href.replace(/\/$/, "");
    const db = await mf.getD1Database("DB");
    const dir = join(ROOT, "migrations-witness");
    const statements = readdirSync(dir)
      .filter((f) => f.endsWith(".sql"))
      .sort()
      .flatMap((f) => readFileSync(join(dir, f), "utf8").replace(/--.*$/gm, "").split(/;\s*$/m).map((s) => s.trim()).filter(Boolean));
    await db.batch(statements.map((s) => db.prepare(s)));
    const info = (await (await fetch(`${url}/`)).json()) as { vkey: string };
    return { url, name, vkey: info.vkey, mf, stop: () => mf.dispose() };
  } catch (err) {
    await mf.dispose().catch(() => undefined);
    throw err;
  }
}
