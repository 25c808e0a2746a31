/**
 * @module
 * Same-origin reads for the package page's checks, as typed results: what a link shows when a
 * read fails is the status code or the network error, never an exception. Paths come from the
 * page's data attributes; a path that would leave the page's origin is refused, so the checks
 * only ever read from the registry that rendered the page.
 */

import { fail, ok, type Result } from "../../core/result.js";

/** `fetch`, injectable: the page passes the window's, tests a fake. */
export type Fetcher = (url: string, init?: RequestInit) => Promise<Response>;

export interface Source {
  origin: string;
  fetch: Fetcher;
}

/** The bytes at `path` on `source.origin`; `what` names it in the error ("the bundle"). */
export async function getBytes(source: Source, path: string, what: string): Promise<Result<Uint8Array>> {
  const answer = await get(source, path, what);
  if (!answer.ok) return answer;
  try {
    return ok(new Uint8Array(await answer.value.arrayBuffer()));
  } catch (err) {
    return fail(`could not read ${what} (${path}): ${errorText(err)}`);
  }
}

/** The JSON value at `path`: unparseable text is a failure like a failed read. */
export async function getJson(source: Source, path: string, what: string): Promise<Result<unknown>> {
  const answer = await get(source, path, what);
  if (!answer.ok) return answer;
  let text: string;
  try {
    text = await answer.value.text();
  } catch (err) {
    return fail(`could not read ${what} (${path}): ${errorText(err)}`);
  }
  try {
    return ok(JSON.parse(text) as unknown);
  } catch {
    return fail(`${what} (${path}) is not JSON`);
  }
}

async function get(source: Source, path: string, what: string): Promise<Result<Response>> {
  let url: URL;
  try {
    url = new URL(path, source.origin);
  } catch {
    return fail(`${what} has no valid address (${path})`);
  }
  if (url.origin !== source.origin) return fail(`${what} is not on this registry's origin (${url.origin})`);
  let response: Response;
  try {
    response = await source.fetch(url.href, { headers: { accept: "application/json, application/octet-stream;q=0.9, */*;q=0.1" }, credentials: "same-origin" });
  } catch (err) {
    return fail(`could not fetch ${what} (${path}): ${errorText(err)}`);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    return fail(`could not fetch ${what} (${path}): HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""}`);
  }
  return ok(response);
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
