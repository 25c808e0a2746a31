/** Helpers for the workerd tests: requests through the real Worker entry, recorded for the secret check. */

import { env, SELF } from "cloudflare:test";
import { encodeName, uploadBody, type Publisher, type UploadParts } from "../helpers/publisher.js";

export const ORIGIN = "http://registry.test";
export const ADMIN_TOKEN = "cs_admin_test_token";
export const SIGNING_KEY = "dGVzdC1vbmx5IHNpZ25pbmcga2V5IC0gbm90IHNlY3I=";

/** Every response seen by this file, so a test can check that no secret ever left the Worker. */
export const seen: { status: number; headers: string; body: string }[] = [];

export async function record(response: Response): Promise<Response> {
  const body = await response.clone().text();
  seen.push({ status: response.status, headers: JSON.stringify([...response.headers]), body });
  return response;
}

export interface CallOptions {
  body?: unknown;
  token?: string | null;
  headers?: Record<string, string>;
}

export async function call(method: string, path: string, options: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: BodyInit | undefined;
  if (options.body instanceof Uint8Array || typeof options.body === "string") body = options.body;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  return record(await SELF.fetch(`${ORIGIN}${path}`, { method, headers, body }));
}

export const admin = (method: string, path: string, body?: unknown) => call(method, `/-/countersign/v1/admin${path}`, { token: ADMIN_TOKEN, body });

/** Creates the namespace (if needed), enrols the publisher and returns a fresh publish token. */
export async function enrol(namespace: string, publisher: Publisher): Promise<string> {
  await admin("POST", "/namespaces", { namespace });
  const key = await admin("POST", `/namespaces/${encodeURIComponent(namespace)}/keys`, { publicKey: publisher.publicKey });
  if (key.status !== 201 && key.status !== 409) throw new Error(`enrol failed: ${key.status} ${await key.text()}`);
  const token = await admin("POST", "/tokens", { scope: "publish", namespaces: [namespace] });
  return ((await token.json()) as { token: string }).token;
}

export const packagePath = (name: string, version?: string) => `/-/countersign/v1/packages/${encodeName(name)}${version === undefined ? "" : `/${version}`}`;

export async function putUpload(name: string, version: string, body: Uint8Array, token: string | null, query = ""): Promise<Response> {
  return call("PUT", `${packagePath(name, version)}${query}`, { body, token, headers: { "content-type": "application/x-tar" } });
}

export async function publishParts(name: string, version: string, parts: UploadParts, token: string): Promise<Response> {
  return putUpload(name, version, await uploadBody(parts), token);
}

export async function errorOf(response: Response): Promise<{ status: number; code: string; message: string; layer?: string; expected?: string; actual?: string }> {
  const body = (await response.json()) as { error: { code: string; message: string; layer?: string } };
  return { status: response.status, ...body.error };
}

/**
 * Every committed log index, in order: versions, registry statements, key rotations and package
 * metadata records share one sequence (migrations/0009, 0011, 0012).
 */
export async function logSequences(): Promise<number[]> {
  const { results } = await env.DB.prepare(
    "SELECT sequence FROM versions UNION ALL SELECT sequence FROM registry_statements UNION ALL SELECT sequence FROM key_rotations UNION ALL SELECT sequence FROM metadata_records ORDER BY sequence",
  ).all<{ sequence: number }>();
  return results.map((r) => r.sequence);
}
