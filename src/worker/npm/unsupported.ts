/**
 * @module
 * The npm registry routes this registry does not serve, refused with a reason npm prints on one
 * line (docs/PROTOCOL.md §11, "The npm front door"). npm 11 asks these URLs (npm's
 * lib/commands/{star,stars,owner,profile,token,trust,stage}.js, libnpmaccess, libnpmteam,
 * libnpmorg, libnpmhook, npm-profile); each answer is a 405 `unsupported` in npm's error shape,
 * whatever the method and the token (it changes nothing and says nothing about any package).
 *
 * 405 rather than 404: npm prints a 404 as "could not be found or you do not have permission",
 * and `npm access list packages` retries `/-/user/<scope>/package` after a 404. Never a 5xx, which
 * npm retries.
 */

import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../context.js";
import { ApiError } from "../errors.js";
import { UNSUPPORTED_MESSAGES } from "./unsupported-messages.js";

export { UNSUPPORTED_MESSAGES };
export type Unsupported = keyof typeof UNSUPPORTED_MESSAGES;

export const unsupported = (what: Unsupported) => new ApiError(405, "unsupported", UNSUPPORTED_MESSAGES[what]);

/** Paths npm asks that name a feature we do not have (names as npm sends them: `@scope%2fname`, or two segments). */
const ROUTES: [RegExp, Unsupported][] = [
  [/^\/-\/_view\/starredByUser$/, "stars"],
  [/^\/-\/user\/org\.couchdb\.user:[^/]*$/, "accounts"],
  [/^\/-\/v1\/login(?:\/.*)?$/, "accounts"],
  [/^\/-\/npm\/v1\/user$/, "profile"],
  [/^\/-\/(?:org|user)\/[^/]+\/package$/, "access"],
  [/^\/-\/team\/[^/]+\/[^/]+\/package$/, "access"],
  [/^\/-\/package\/(?:@[^/]+\/)?[^/]+\/(?:collaborators|visibility|access)$/, "access"],
  [/^\/-\/org\/[^/]+\/team$/, "teams"],
  [/^\/-\/team\/[^/]+\/[^/]+(?:\/user)?$/, "teams"],
  [/^\/-\/org\/[^/]+\/user$/, "orgs"],
  [/^\/-\/npm\/v1\/hooks(?:\/.*)?$/, "hooks"],
  [/^\/-\/package\/(?:@[^/]+\/)?[^/]+\/trust(?:\/.*)?$/, "trust"],
  [/^\/-\/stage(?:\/.*)?$/, "stage"],
];

/** What an npm path is refused for, or null. */
export function unsupportedRoute(path: string): Unsupported | null {
  if (!path.startsWith("/-/")) return null;
  for (const [pattern, what] of ROUTES) if (pattern.test(path)) return what;
  return null;
}

/** Refuses the routes above before any other route or token check. */
export const refuseUnsupported: MiddlewareHandler<AppEnv> = async (c, next) => {
  const what = unsupportedRoute(new URL(c.req.url).pathname);
  if (what) throw unsupported(what);
  await next();
};
