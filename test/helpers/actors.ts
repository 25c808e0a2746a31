/**
 * @module
 * The people of the end-to-end stories: a registry admin (HTTP admin API), a publisher (the real
 * client CLI) and npm package fixtures on disk.
 */

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, runJson } from "./cli.js";
import type { TestRegistry } from "./registry.js";

export async function adminApi(registry: Pick<TestRegistry, "url" | "adminToken">, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`${registry.url}/-/countersign/v1/admin${path}`, {
    method,
    headers: { authorization: `Bearer ${registry.adminToken}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (!response.ok && response.status !== 409) throw new Error(`admin ${method} ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

export interface PublisherSetup {
  keyFile: string;
  token: string;
}

/** A publisher key (made with the CLI), enrolled in `namespace`, and a publish token for it. */
export async function enrolPublisher(registry: TestRegistry, namespace: string, keyFile: string): Promise<PublisherSetup> {
  await runCli(["keygen", "--out", keyFile]); // no-op (exit 2) if it already exists
  const { publicKey } = JSON.parse((await import("node:fs")).readFileSync(keyFile, "utf8")) as { publicKey: string };
  await adminApi(registry, "POST", "/namespaces", { namespace });
  await adminApi(registry, "POST", `/namespaces/${encodeURIComponent(namespace)}/keys`, { publicKey });
  const { token } = (await adminApi(registry, "POST", "/tokens", { scope: "publish", namespaces: [namespace] })) as { token: string };
  return { keyFile, token };
}

/** Writes an npm package directory: package.json plus an index.js that exports `marker`. */
export function writePackage(dir: string, name: string, version: string, marker: string, extra: Record<string, unknown> = {}): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, version, main: "index.js", description: `${name} (${marker})`, license: "MIT", ...extra }, null, 2));
  writeFileSync(join(dir, "index.js"), `module.exports = ${JSON.stringify(marker)};\n`);
  return dir;
}

export async function publishDir(registry: TestRegistry, publisher: PublisherSetup, dir: string, args: string[] = []): Promise<{ integrity: string }> {
  return runJson<{ integrity: string }>(["publish", dir, "--registry", registry.url, "--key", publisher.keyFile, ...args], { env: { COUNTERSIGN_TOKEN: publisher.token } });
}
