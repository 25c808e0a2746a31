/**
 * @module
 * Bearer authentication. The admin token is a Workers secret compared in constant time; other
 * tokens are random, shown once, and stored only as SHA-256 hex (a lookup key that is useless to
 * whoever reads the database).
 */

import type { Context } from "hono";
import type { AppContext } from "./context.js";
import { randomBytes, sha256, toBase64Url, toHex, utf8 } from "../core/index.js";
import { ApiError } from "./errors.js";
import type { MetaStore, TokenRow } from "./storage/meta.js";

export const TOKEN_PREFIX = "cs_";

export function newToken(): { id: string; token: string } {
  return { id: `tok_${toBase64Url(randomBytes(9))}`, token: `${TOKEN_PREFIX}${toBase64Url(randomBytes(32))}` };
}

export async function hashToken(token: string): Promise<string> {
  return toHex(await sha256(utf8(token)));
}

/** The bearer token of a request, or null. Accepts npm's `Authorization: Bearer <token>`. */
export function bearerToken(c: Context): string | null {
  const header = c.req.header("authorization");
  const match = header ? /^Bearer\s+(\S{1,512})\s*$/i.exec(header) : null;
  return match ? match[1]! : null;
}

const unauthorized = (message: string) => new ApiError(401, "unauthorized", message);

/** Throws unless the request carries the ADMIN_TOKEN secret. */
export async function requireAdmin(c: AppContext): Promise<void> {
  const expected = c.env.ADMIN_TOKEN;
  if (!expected) throw new ApiError(500, "misconfigured", "registry is misconfigured: ADMIN_TOKEN is not set (see README: Deploy)");
  const given = bearerToken(c);
  if (!given) throw unauthorized("admin token required: send Authorization: Bearer <ADMIN_TOKEN>");
  // Hash both sides to equal lengths, then compare without an early exit.
  const [a, b] = await Promise.all([sha256(utf8(given)), sha256(utf8(expected))]);
  if (!crypto.subtle.timingSafeEqual(a, b)) throw unauthorized("admin token is not valid");
}

/**
 * The web UI's session cookie (src/web/session.ts): the read token a browser signed in with on a
 * registry whose reads need one. HttpOnly and SameSite=Strict, so no script reads it and no other
 * site's page sends it.
 */
export const SESSION_COOKIE = "countersign_session";
const SESSION_VALUE = new RegExp(`(?:^|;\\s*)${SESSION_COOKIE}=(${TOKEN_PREFIX}[A-Za-z0-9_-]{1,200})(?:;|$)`);

/**
 * The token a read is made with: the bearer token, else, for a GET or HEAD from a browser, the
 * session cookie (a cookie never authorises a write).
 */
export function readToken(c: Context): string | null {
  const bearer = bearerToken(c);
  if (bearer || (c.req.method !== "GET" && c.req.method !== "HEAD")) return bearer;
  const cookie = c.req.header("cookie");
  const match = cookie ? SESSION_VALUE.exec(cookie) : null;
  return match ? match[1]! : null;
}

/** Resolves a bearer token to its live row, or throws 401. */
export async function requireToken(meta: MetaStore, token: string | null): Promise<TokenRow> {
  if (!token) throw unauthorized("a token is required: send Authorization: Bearer <token>");
  const row = await meta.findToken(await hashToken(token));
  if (!row || row.revokedAt) throw unauthorized("token is not valid or has been revoked");
  return row;
}

/** Publish tokens carry the namespaces they may publish in. */
export function checkPublishScope(token: TokenRow, namespace: string): void {
  if (token.scope !== "publish") throw new ApiError(403, "forbidden", "this token may only read; publishing needs a publish token");
  if (!token.namespaces.includes(namespace)) throw new ApiError(403, "forbidden", `this token may not publish in ${namespace}`);
}
