/**
 * @module
 * Talking to a registry: URL handling, timeouts, and turning the registry's JSON errors into one
 * line that says what the registry refused and why.
 */

import { CliError, usageError } from "./errors.js";

const TIMEOUT_MS = Number(process.env.COUNTERSIGN_TIMEOUT_MS ?? 120_000);

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
}

export async function request(url: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { "user-agent": "countersign-cli", ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? "GET",
      headers,
      body: options.body ?? null,
      signal: AbortSignal.timeout(TIMEOUT_MS),
      ...(options.body instanceof ReadableStream ? { duplex: "half" } : {}),
    } as RequestInit);
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    throw new CliError(`cannot reach ${new URL(url).origin}: ${cause}`);
  }
  if (response.ok || options.accept?.includes(response.status)) return response;
  throw await registryError(response);
}

export async function requestJson<T>(url: string, options: RequestOptions = {}): Promise<T> {
  const response = await request(url, options);
  try {
    return (await response.json()) as T;
  } catch {
    throw new CliError(`${new URL(url).origin} answered ${response.status} with a body that is not JSON`);
  }
}

async function registryError(response: Response): Promise<CliError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
  const what = error?.message ? `${error.message} [${error.code ?? response.status}]` : `HTTP ${response.status} ${response.statusText}`;
  return new CliError(`registry refused (${response.status}): ${what}`, response.status === 400 || response.status === 403 || response.status === 409 ? 1 : 3, body);
}
