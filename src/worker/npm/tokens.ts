/**
 * @module
 * `npm token list / create / revoke` (npm-profile's `/-/npm/v1/tokens` routes, as npm 11 calls
 * them), backed by the registry's own tokens (auth.ts; docs/PROTOCOL.md §11).
 *
 * Who may do what — the safe choice, since a token is the only credential here:
 *
 * - any live token lists itself and the tokens it made (never another's, never a token: only its
 *   `cs_` prefix and 4 of its characters, as npm's registry shows them);
 * - a token made by the admin API (read or publish) may make **read-only** tokens, at most
 *   MAX_DERIVED_TOKENS live ones. Such a token reads what any token reads, makes no tokens
 *   itself, and is revoked with the token that made it (in the same statement): a leaked token
 *   cannot leave behind a token that outlives its revocation;
 * - publish tokens are made only by the admin API (`countersign admin token create`): a write
 *   capability and its namespaces are the operators' decision, and a leaked token must not be
 *   able to mint one;
 * - a token may revoke itself and the tokens it made, nothing else.
 *
 * What npm sends that a countersign token cannot honour is refused, never ignored: IP ranges
 * (`--cidr`), expiry (`--expires`), limits to scopes, packages or organizations (a read token
 * reads every package). The password npm asks for is not checked: there are no passwords here,
 * the bearer token is what authenticates.
 */

import { Hono } from "hono";
import * as z from "zod/mini";
import { bearerToken, hashToken, newToken, requireToken, TOKEN_PREFIX } from "../auth.js";
import type { AppEnv } from "../context.js";
import { ApiError, badRequest, notFound } from "../errors.js";
import { readJson } from "../json.js";
import { MAX_DERIVED_TOKENS, type TokenRow } from "../storage/meta.js";

export const npmTokenRoutes = new Hono<AppEnv>();

/** How many characters of a token `npm token list` shows: `cs_` and 4 of its 43 random ones. */
export const TOKEN_DISPLAY_LENGTH = TOKEN_PREFIX.length + 4;

/** npm's token object (npm-profile `listTokens`): never the token itself. */
function npmToken(t: TokenRow) {
  return {
    token: t.prefix || TOKEN_PREFIX,
    key: t.id,
    name: t.label,
    readonly: t.scope === "read",
    cidr_whitelist: null,
    created: t.createdAt,
    updated: t.createdAt,
    scope: t.scope,
    namespaces: t.namespaces,
    createdBy: t.createdBy ?? null,
  };
}

npmTokenRoutes.get("/-/npm/v1/tokens", async (c) => {
  const caller = await requireToken(c.var.deps.meta, bearerToken(c));
  const tokens = await c.var.deps.meta.listOwnTokens(caller.id);
  return c.json({ objects: tokens.map(npmToken), total: tokens.length, urls: {} }, 200, { "Cache-Control": "no-store" });
});

const CreateBody = z.record(z.string(), z.unknown());

const nonEmpty = (value: unknown) => (Array.isArray(value) ? value.length > 0 : value !== undefined && value !== null && value !== "" && value !== false);

npmTokenRoutes.post("/-/npm/v1/tokens", async (c) => {
  const caller = await requireToken(c.var.deps.meta, bearerToken(c));
  const body = await readJson(c, CreateBody);
  // What the token would have to carry and cannot: refused, so nobody gets a broader token than asked for.
  if (nonEmpty(body.cidr_whitelist)) throw badRequest("unsupported", "countersign tokens cannot be limited to IP ranges (CIDR): create the token without --cidr");
  if (nonEmpty(body.expires)) throw badRequest("unsupported", "countersign tokens do not expire: create it without --expires, and revoke it with npm token revoke when it is no longer needed");
  for (const field of ["scopes", "packages", "orgs"] as const) {
    if (nonEmpty(body[field])) throw badRequest("unsupported", `countersign read-only tokens read every package on this registry and cannot be limited to ${field}: create the token without --${field}`);
  }
  const permission = body.packages_and_scopes_permission;
  // npm 11 sends packages_and_scopes_permission (read-only unless asked); npm 10 and older, `readonly`.
  const how = body.readonly === false ? "pass --read-only" : "leave out --packages-and-scopes-permission and --orgs-permission, or pass read-only";
  if (body.readonly === false || permission === "read-write" || body.orgs_permission === "read-write") {
    throw new ApiError(403, "forbidden", `npm token create makes read-only tokens on countersign registries (${how}); publish tokens are issued by the registry's operators (countersign admin token create --scope publish)`);
  }
  if (permission !== undefined && permission !== null && permission !== "read-only") throw badRequest("invalid_body", 'packages_and_scopes_permission must be "read-only"');
  if (caller.createdBy) throw new ApiError(403, "forbidden", "this token was made with npm token create and cannot make tokens; use the token that made it");
  const name = typeof body.name === "string" ? body.name : typeof body.description === "string" ? body.description : "";
  if (name.length > 200) throw badRequest("invalid_body", "the token name must be at most 200 characters");
  const label = name || `read-only, made by ${caller.label || caller.id}`;

  const { id, token } = newToken();
  const createdAt = c.var.deps.now().toISOString();
  const row = { id, hash: await hashToken(token), scope: "read" as const, namespaces: [], label, createdAt, revokedAt: null, createdBy: caller.id, prefix: token.slice(0, TOKEN_DISPLAY_LENGTH) };
  const outcome = await c.var.deps.meta.createDerivedToken(row);
  if (outcome === "parent_revoked") throw new ApiError(401, "unauthorized", "token is not valid or has been revoked");
  if (outcome === "too_many") throw new ApiError(409, "too_many_tokens", `this token already has ${MAX_DERIVED_TOKENS} live tokens; revoke some first (npm token list, npm token revoke)`);
  return c.json({ ...npmToken(row), token, note: "store this token now: it is not shown again" }, 201, { "Cache-Control": "no-store" });
});

// npm sends the token's key (the id, `tok_…`, as `npm token list` shows it) or, when given a
// whole token instead, that token (it matched the listed `cs_…` prefix).
npmTokenRoutes.delete("/-/npm/v1/tokens/token/:key", async (c) => {
  const caller = await requireToken(c.var.deps.meta, bearerToken(c));
  const key = c.req.param("key");
  const meta = c.var.deps.meta;
  const id = key.startsWith(TOKEN_PREFIX) ? ((await meta.findToken(await hashToken(key)))?.id ?? null) : key;
  // Never echo a token back: the message names the key only when it is an id.
  const what = key.startsWith(TOKEN_PREFIX) ? "that token" : `token ${key.slice(0, 40)}`;
  if (!id || (await meta.revokeToken(id, c.var.deps.now().toISOString(), caller.id)) === "not_found") {
    throw notFound(`${what} is not a live token that this token may revoke (itself, or one it made with npm token create)`, "unknown_token");
  }
  return c.json({ ok: true, key: id });
});
