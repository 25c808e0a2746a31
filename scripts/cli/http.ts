/**
 * @module
 * Talking to a registry: URL handling, a time limit on every request, a size limit on every
 * response, and turning the registry's JSON errors into one line that says what the registry
 * refused and why.
 *
 * Any host a lockfile or a packument names may be hostile, so nothing is read without a bound:
 * a request that gets no answer within the timeout (30 s; `--timeout SECONDS`, `COUNTERSIGN_TIMEOUT`
 * in seconds, or `COUNTERSIGN_TIMEOUT_MS`) fails with the host's name and exit 3; uploads and
 * tarball downloads have their own limit (300 s, `COUNTERSIGN_TRANSFER_TIMEOUT_MS`). A body larger
 * than its limit (below; `COUNTERSIGN_MAX_RESPONSE_BYTES` lowers or raises them all) is cut off
 * while streaming, before it can fill memory.
 * An unreachable host is an `UnreachableError`, so callers can tell an outage from a rejection.
 */

import { CliError, EXIT, usageError } from "./errors.js";

const MiB = 1024 * 1024;

/** The default time limit of one request, connect to last byte, in seconds. */
export const DEFAULT_TIMEOUT_SECONDS = 30;

let configuredTimeoutMs: number | undefined;

/** A timeout in seconds from the command line or the environment: a positive number, or a usage error. */
export function parseTimeoutSeconds(value: string | undefined, source: string): number {
  const seconds = Number(value);
  if (!value || !Number.isFinite(seconds) || seconds <= 0) throw usageError(`${source} must be a positive number of seconds, got "${value ?? ""}"`);
  return seconds;
}

/** `--timeout SECONDS` (main.ts): overrides the environment. */
export function setTimeoutSeconds(seconds: number): void {
  configuredTimeoutMs = Math.round(seconds * 1000);
}

/**
 * The time limit of one request in ms: `--timeout`, else `COUNTERSIGN_TIMEOUT` (seconds), else
 * `COUNTERSIGN_TIMEOUT_MS`, else 30 s. Read when a request starts, so main.ts can set it first.
 */
export function requestTimeoutMs(): number {
  if (configuredTimeoutMs !== undefined) return configuredTimeoutMs;
  const seconds = process.env.COUNTERSIGN_TIMEOUT;
  if (seconds !== undefined && seconds !== "") return Math.round(parseTimeoutSeconds(seconds, "COUNTERSIGN_TIMEOUT") * 1000);
  const ms = Number(process.env.COUNTERSIGN_TIMEOUT_MS);
  return Number.isFinite(ms) && ms > 0 ? ms : DEFAULT_TIMEOUT_SECONDS * 1000;
}

/** The time limit of one upload or tarball download (bodies of up to hundreds of MiB). */
export const TRANSFER_TIMEOUT_MS = Number(process.env.COUNTERSIGN_TRANSFER_TIMEOUT_MS ?? 300_000);

/** Size limits per kind of response (documented in README › Configuration). */
export const LIMITS = {
  /** A packument (abbreviated or full): npm's largest real ones are a few tens of MiB. */
  packument: 48 * MiB,
  /** One answer of the batch bundle API (at most PER_REQUEST bundles). */
  bundles: 48 * MiB,
  /** Any other JSON answer: identity documents, single bundles, admin answers, errors. */
  json: 8 * MiB,
  /** A tarball that is hashed while streaming (never held in memory). */
  tarball: 1024 * MiB,
} as const;

const override = Number(process.env.COUNTERSIGN_MAX_RESPONSE_BYTES);
export function limitOf(kind: keyof typeof LIMITS): number {
  return Number.isFinite(override) && override > 0 ? override : LIMITS[kind];
}

/** The host did not answer (refused, reset, DNS, timeout) or answered 5xx: an outage, not a verdict. */
export class UnreachableError extends CliError {
  constructor(
    readonly host: string,
    readonly reason: string,
  ) {
    super(`${host} unreachable (${reason})`, EXIT.unavailable);
    this.name = "UnreachableError";
  }
}

/** Normalises a registry URL to its origin-plus-path without a trailing slash. */
export function registryBase(url: string | undefined): string {
  if (!url) throw usageError("no registry given: pass --registry URL or set COUNTERSIGN_REGISTRY");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw usageError(`registry "${url}" is not a URL`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw usageError(`registry "${url}" must be http(s)`);
  return parsed.href.replace(/\/+$/, "");
}

/** `@acme/utils` → `@acme%2futils`: one path segment, as npm sends it. */
export const encodeName = (name: string) => encodeURIComponent(name).replace(/^%40/, "@").replace("%2F", "%2f");

export interface RequestOptions {
  method?: string;
  token?: string | undefined;
  body?: BodyInit | null;
  headers?: Record<string, string>;
  /** Statuses that are answers, not errors (e.g. 404 when probing). */
  accept?: number[];
  /** Overrides requestTimeoutMs() (uploads of large packages need longer). */
  timeoutMs?: number;
  /** Aborts the request early; its reason's message says why (e.g. an upload that stalled). */
  signal?: AbortSignal;
}

const hostOf = (url: string) => new URL(url).host;

/** `1 s`, `30 s`, `500 ms`. */
export const seconds = (ms: number) => (ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`);

function describeCause(err: unknown, timeoutMs: number): string {
  const name = (err as Error).name;
  if (name === "TimeoutError" || name === "AbortError") return `no answer within ${seconds(timeoutMs)}`;
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message ?? String(err);
}

export async function request(url: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { "user-agent": "countersign-cli", ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  const timeoutMs = options.timeoutMs ?? requestTimeoutMs();
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? "GET",
      headers,
      body: options.body ?? null,
      signal: options.signal ? AbortSignal.any([AbortSignal.timeout(timeoutMs), options.signal]) : AbortSignal.timeout(timeoutMs),
      ...(options.body instanceof ReadableStream ? { duplex: "half" } : {}),
    } as RequestInit);
  } catch (err) {
    if (options.signal?.aborted) throw new UnreachableError(hostOf(url), (options.signal.reason as Error | undefined)?.message ?? "aborted");
    throw new UnreachableError(hostOf(url), describeCause(err, timeoutMs));
  }
  if (response.ok || options.accept?.includes(response.status)) return response;
  if (response.status >= 500) {
    await response.body?.cancel().catch(() => undefined);
    throw new UnreachableError(hostOf(url), `HTTP ${response.status}`);
  }
  throw await registryError(response, url);
}

/**
 * Streams the body to `onChunk`, cut off at `limit` bytes: a hostile host cannot make the client
 * take more than that. A stalled body fails with the request's timeout.
 */
export async function streamBody(response: Response, url: string, limit: number, what: string, onChunk: (chunk: Uint8Array) => void): Promise<number> {
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(url, limit, what);
  }
  if (!response.body) return 0;
  let size = 0;
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return size;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(url, limit, what);
      }
      onChunk(value);
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new UnreachableError(hostOf(url), `the answer stopped: ${describeCause(err, requestTimeoutMs())}`);
  }
}

/** The whole body, bounded by `limit` (streamBody). */
export async function readBody(response: Response, url: string, limit: number, what: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const size = await streamBody(response, url, limit, what, (chunk) => chunks.push(chunk));
  if (chunks.length === 1) return chunks[0]!;
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

/** A body over its size limit: cut off, never buffered whole. */
export class ResponseTooLargeError extends CliError {
  constructor(url: string, limit: number, what: string) {
    super(`${hostOf(url)} sent more than ${Math.round(limit / MiB)} MiB for ${what}: refused (COUNTERSIGN_MAX_RESPONSE_BYTES sets the limit)`, EXIT.unavailable);
    this.name = "ResponseTooLargeError";
  }
}

const tooLarge = (url: string, limit: number, what: string) => new ResponseTooLargeError(url, limit, what);

/** Parses a bounded body as JSON; a body that is not JSON is an error naming the host. */
export async function readJson<T>(response: Response, url: string, limit: number, what: string): Promise<T> {
  const bytes = await readBody(response, url, limit, what);
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch {
    throw new CliError(`${hostOf(url)} answered ${response.status} for ${what} with a body that is not JSON`);
  }
}

export async function requestJson<T>(url: string, options: RequestOptions & { limit?: number } = {}): Promise<T> {
  const response = await request(url, options);
  return readJson<T>(response, url, options.limit ?? limitOf("json"), new URL(url).pathname);
}

async function registryError(response: Response, url: string): Promise<CliError> {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(await readBody(response, url, limitOf("json"), "an error")));
  } catch {
    body = undefined;
  }
  const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  const what = error?.message ? `${error.message} [${error.code ?? response.status}]` : `HTTP ${response.status} ${response.statusText}`;
  return new CliError(`registry refused (${response.status}): ${what}`, response.status === 400 || response.status === 403 || response.status === 409 ? EXIT.rejected : EXIT.unavailable, {
    status: response.status,
    ...(error?.code ? { code: error.code } : {}),
    ...(body === undefined ? {} : { response: body }),
  });
}
