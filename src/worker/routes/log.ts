/**
 * @module
 * The transparency log, served as C2SP tlog-tiles below `/-/countersign/v1/log/` (PROTOCOL §18):
 *
 *     GET checkpoint                 the latest signed checkpoint (revalidated on every use)
 *     GET tile/<L>/<N>[.p/<W>]       hash tiles         } immutable: a path names its bytes forever,
 *     GET tile/entries/<N>[.p/<W>]   entry bundles      } so cached a year, at the edge too
 *
 * Only canonical paths are answered; a tile the log has not published yet is a 404. Reads need
 * a token when the registry's do (READ_ACCESS=token): the entries name every package.
 *
 * And, for a namespace, its registry statements (claim, enrolments, revocations; PROTOCOL §20),
 * each with its tlog-proof against the latest checkpoint:
 *
 *     GET /-/countersign/v1/namespaces/<namespace>/statements
 */

import { Hono } from "hono";
import { checkNamespace, LOG_PATH, parseEntriesPath, parseTilePath } from "../../core/index.js";
import { cacheControl, matchesIfNoneMatch } from "../artifacts.js";
import { edgeCache, waitUntil, type AppContext, type AppEnv } from "../context.js";
import { originNotConfigured } from "../config.js";
import { ApiError, badRequest, notFound } from "../errors.js";
import { r2LogReader } from "../log/stores.js";
import { requireRead } from "./packages.js";

export const logRoutes = new Hono<AppEnv>();

const TEXT = "text/plain; charset=utf-8";

logRoutes.get(`${LOG_PATH}checkpoint`, async (c) => {
  await requireRead(c);
  const reader = r2LogReader(c.env.ARTIFACTS);
  let checkpoint = await reader.get("checkpoint");
  if (!checkpoint) {
    // A registry that has not logged anything yet: the first round writes entry 0 and a checkpoint
    // (signed, so only with REGISTRY_ORIGIN set; the error would not cross the Durable Object intact).
    if (!c.var.deps.config.origin) throw originNotConfigured();
    await c.var.deps.log().sync();
    checkpoint = await reader.get("checkpoint");
    if (!checkpoint) throw new ApiError(503, "log_unavailable", "the log has no checkpoint yet; retry shortly");
  }
  const visibility = c.var.deps.config.readAccess === "public" ? "public" : "private";
  return c.body(checkpoint, 200, { "Content-Type": TEXT, "Cache-Control": `${visibility}, no-cache`, "X-Content-Type-Options": "nosniff" });
});

logRoutes.get(`${LOG_PATH}tile/*`, async (c) => {
  await requireRead(c);
  const path = c.req.path.slice(LOG_PATH.length);
  const valid = path.startsWith("tile/entries/") ? parseEntriesPath(path).ok : parseTilePath(path).ok;
  if (!valid) throw notFound(`${path.slice(0, 120)} is not a tile path of this log (c2sp.org/tlog-tiles, canonical form)`);
  return serveTile(c, path);
});

// Never served to anyone: only the key of the edge cache's copy.
const cacheKey = (path: string) => new Request(`https://cache.countersign.invalid/log/${path}`);

async function serveTile(c: AppContext, path: string): Promise<Response> {
  const etag = `"${path}"`;
  const headers = { "Content-Type": "application/octet-stream", "Cache-Control": cacheControl(c), ETag: etag, "X-Content-Type-Options": "nosniff" };
  if (matchesIfNoneMatch(c.req.header("if-none-match"), etag)) return c.body(null, 304, headers);
  const cache = c.var.deps.config.readAccess === "public" ? edgeCache() : undefined;
  const hit = await cache?.match(cacheKey(path));
  if (hit) return c.body(new Uint8Array(await hit.arrayBuffer()), 200, headers);
  const bytes = await r2LogReader(c.env.ARTIFACTS).get(path);
  if (!bytes) throw notFound(`${path} is not published (yet)`);
  if (cache) waitUntil(c, cache.put(cacheKey(path), new Response(bytes.slice(), { headers: { "Cache-Control": cacheControl(c) } })));
  return c.body(bytes, 200, headers);
}

/** More statements than this in one namespace are answered in pages (`?after=<sequence>`). */
const STATEMENTS_PER_PAGE = 500;

logRoutes.get("/-/countersign/v1/namespaces/:namespace/statements", async (c) => {
  await requireRead(c);
  const namespace = c.req.param("namespace");
  const check = checkNamespace(namespace);
  if (!check.ok) throw badRequest("invalid_namespace", check.reason);
  const after = c.req.query("after") ?? "0";
  if (!/^(0|[1-9][0-9]{0,15})$/.test(after)) throw badRequest("invalid_after", "after must be a sequence number");
  const page = await c.var.deps.meta.listStatements(namespace, Number(after), STATEMENTS_PER_PAGE);
  if (!page) throw notFound(`namespace ${namespace} does not exist`, "unknown_namespace");
  const { checkpoint, proofs } = page.length ? await c.var.deps.log().proofs(page.map((s) => s.sequence)) : { checkpoint: null, proofs: [] };
  const statements = page.map((s, i) => ({ envelope: JSON.parse(s.envelope) as unknown, log: { index: s.sequence, ...(proofs[i] ? { tlogProof: proofs[i] } : { pending: true }) } }));
  const next = page.length === STATEMENTS_PER_PAGE ? { next: page.at(-1)!.sequence } : {};
  return c.json({ namespace, statements, checkpoint, ...next }, 200, { "Cache-Control": "no-cache" });
});
