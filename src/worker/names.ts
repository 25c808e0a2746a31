/**
 * @module
 * Package names in URLs. Clients send scoped names either as one escaped segment
 * (`@acme%2futils`, npm; `@acme%2Futils`, pnpm) or as two segments (`@acme/utils`). Every route
 * that takes a name is registered for both shapes with `namePaths`, and reads it with `nameParam`.
 */

import { checkPackageName } from "../core/index.js";
import type { AppContext } from "./context.js";
import { badRequest } from "./errors.js";

/**
 * Both URL shapes of `prefix/<name>suffix`. The one-segment shape matches only an escaped
 * scoped name or an unscoped one, so `/@acme/utils` can never be read as name `@acme` followed
 * by another segment, whatever order routes are registered in. At the root, nor a segment starting with
 * "-" (no name does): npm's `/-/…` routes we do not serve are unknown routes, not bad names. (Hono
 * matches the raw path and decodes parameters afterwards.)
 */
export function namePaths(prefix: string, suffix = ""): string[] {
  return [`${prefix}/:scope{@[^/%]+}/:base${suffix}`, `${prefix}/:name{(?:(?:@|%40)[^/]*%2[fF][^/]*|${prefix === "" ? "[^@/-]" : "[^@/]"}[^/]*)}${suffix}`];
}

/** The package name from either shape, validated (400 `invalid_name` otherwise). */
export function nameParam(c: AppContext): string {
  const scope = c.req.param("scope");
  const name = scope ? `${scope}/${c.req.param("base")}` : c.req.param("name");
  const check = checkPackageName(name);
  if (!check.ok) throw badRequest("invalid_name", check.reason);
  return name!;
}
