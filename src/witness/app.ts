/**
 * @module
 * The witness's HTTP interface (c2sp.org/tlog-witness), with the submission and monitoring
 * prefixes both at the root:
 *
 *     POST /add-checkpoint     the spec's call; text bodies, status codes as witness.ts lists
 *     GET  /  (or /witness)    JSON: the witness's name, its cosignature vkey, the logs it knows
 *     anything else            404 (405 for another method on /add-checkpoint)
 *
 * Errors are one line of text/plain; a 500 says "internal error" and nothing else, and only the
 * kind of failure is logged.
 */

import { Hono, type Context } from "hono";
import { MisconfiguredError, readWitnessConfig } from "./config.js";
import { d1WitnessStore } from "./d1-store.js";
import type { WitnessEnv } from "./env.js";
import { MAX_BODY_BYTES, readBody } from "./request.js";
import type { WitnessStore } from "./store.js";
import { addCheckpoint, type AddCheckpointOutcome } from "./witness.js";

/** The 409 body type for a wrong old size: the witness's size in decimal, then a newline. */
export const TLOG_SIZE_TYPE = "text/x.tlog.size";

export interface WitnessAppOptions {
  /** Storage (default: D1 at `env.DB`). Tests inject one to force interleavings. */
  readonly store?: (env: WitnessEnv) => WitnessStore;
  /** Clock for cosignature timestamps, POSIX seconds (default: the system clock). */
  readonly now?: () => number;
}

type WitnessContext = Context<{ Bindings: WitnessEnv }>;

function text(status: number, body: string, type = "text/plain; charset=utf-8"): Response {
  return new Response(body, { status, headers: { "content-type": type, "cache-control": "no-store", "x-content-type-options": "nosniff" } });
}

/** One line, for a status the spec defines; the reasons are fixed strings or core messages, never input. */
function respond(outcome: AddCheckpointOutcome): Response {
  switch (outcome.kind) {
    case "cosigned":
      return text(200, outcome.cosignature);
    case "malformed":
      return text(400, `malformed request: ${outcome.reason}\n`);
    case "unknown-log":
      return text(404, "unknown log origin\n");
    case "untrusted":
      return text(403, `checkpoint not signed by a key trusted for its origin: ${outcome.reason}\n`);
    case "old-too-large":
      return text(400, `old size ${outcome.oldSize} is larger than the checkpoint size ${outcome.size}\n`);
    case "conflict":
      return text(409, `${outcome.latestSize}\n`, TLOG_SIZE_TYPE);
    case "fork":
      // Not text/x.tlog.size: retrying with another old size cannot help, the log has two trees of this size.
      return text(409, `checkpoint has the size of the latest cosigned one (${outcome.size}) but a different root hash\n`);
    case "inconsistent":
      return text(422, `consistency proof does not verify: ${outcome.reason}\n`);
  }
}

export function createWitnessApp(options: WitnessAppOptions = {}) {
  const storeOf = options.store ?? ((env: WitnessEnv) => d1WitnessStore(env.DB));
  const app = new Hono<{ Bindings: WitnessEnv }>();

  const info = async (c: WitnessContext) => {
    const config = await readWitnessConfig(c.env, options.now);
    return c.json(
      {
        name: config.name,
        vkey: config.vkey,
        protocol: "https://c2sp.org/tlog-witness",
        addCheckpoint: `${new URL(c.req.url).origin}/add-checkpoint`,
        logs: [...config.logs.values()].map((log) => ({ origin: log.origin, keys: log.vkeys })),
      },
      200,
      { "cache-control": "no-store" },
    );
  };
  app.get("/", info);
  app.get("/witness", info);

  app.post("/add-checkpoint", async (c) => {
    const config = await readWitnessConfig(c.env, options.now);
    const body = await readBody(c.req.raw);
    if (!body.ok) return body.error === "too-large" ? text(413, `request body exceeds ${MAX_BODY_BYTES} bytes\n`) : text(400, "request body could not be read\n");
    const outcome = await addCheckpoint(body.value, { config, store: storeOf(c.env) });
    // The spec allows logging a refused but validly signed checkpoint: it may be evidence of a
    // misbehaving log. Sizes and origin only; the operator can ask the log for the rest.
    if (outcome.kind === "fork" || outcome.kind === "inconsistent") {
      console.warn(`witness: refused ${outcome.kind} checkpoint of ${outcome.origin}: ${outcome.kind === "fork" ? `size ${outcome.size}` : `${outcome.oldSize} -> ${outcome.size}`}`);
    }
    return respond(outcome);
  });
  app.all("/add-checkpoint", () => {
    const response = text(405, "add-checkpoint takes POST\n");
    response.headers.set("allow", "POST");
    return response;
  });

  app.notFound(() => text(404, "not found\n"));
  app.onError((err, c) => {
    if (err instanceof MisconfiguredError) return text(500, `${err.message}\n`);
    // The kind of failure only: storage messages are not ours to publish.
    console.error(`witness: internal error on ${c.req.method} ${new URL(c.req.url).pathname}: ${err instanceof Error ? err.name : typeof err}`);
    return text(500, "internal error\n");
  });
  return app;
}
