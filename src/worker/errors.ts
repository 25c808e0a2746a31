/**
 * @module
 * The Worker's one error type. Routes and domain code throw `ApiError`; `app.onError` turns it
 * into `{ "error": { "code", "message", ... } }` with its status. Anything else becomes a bare
 * 500 so that no stack trace or internal detail reaches a client.
 */

import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    /** Extra public fields for the body, e.g. the layer that failed or expected/actual values. */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const badRequest = (code: string, message: string, details?: Record<string, unknown>) => new ApiError(400, code, message, details);
export const notFound = (message: string, code = "not_found") => new ApiError(404, code, message);

export function errorBody(code: string, message: string, details: Record<string, unknown> = {}) {
  return { error: { code, message, ...details } };
}

/**
 * npm's clients print `body.error` as a string (npm-registry-fetch), so the npm front door answers
 * `{ "error": "<message>", "code": "<code>", ... }`; every other route uses `errorBody`.
 */
export type ErrorStyle = "countersign" | "npm";

export function npmErrorBody(code: string, message: string, details: Record<string, unknown> = {}) {
  return { error: message, code, ...details };
}

/**
 * The error shape for a path: countersign's own for the native API (`/-/countersign/…`, the
 * admin API and the log included) and the identity document; npm's everywhere else, since any
 * other path is one an npm-style client may call (a route we do not serve included), and npm
 * prints `body.error` as a string (an object prints as "[object Object]").
 */
export function errorStyleFor(path: string): ErrorStyle {
  return path.startsWith("/-/countersign/") || path === "/-/countersign" || path.startsWith("/.well-known/") ? "countersign" : "npm";
}

export function handleError(err: unknown, c: Context, style: ErrorStyle = errorStyleFor(new URL(c.req.url).pathname)): Response {
  const body = style === "npm" ? npmErrorBody : errorBody;
  if (err instanceof ApiError) {
    const headers: Record<string, string> = err.status === 401 ? { "WWW-Authenticate": 'Bearer realm="countersign"' } : {};
    return c.json(body(err.code, err.message, err.details), err.status, headers);
  }
  // Log the kind of failure only: messages from storage layers are not ours to publish.
  console.error(`internal error on ${c.req.method} ${new URL(c.req.url).pathname}: ${err instanceof Error ? err.name : typeof err}`);
  return c.json(body("internal_error", "internal error"), 500);
}
