/**
 * @module
 * The world of the browser tests: a real registry (dist/worker.mjs in workerd via Miniflare on
 * 127.0.0.1), a publisher enrolled in @acme publishing through the native API (signed statement
 * with per-file digests and an AI attribute), a review, and the log round that puts a tlogProof in
 * each bundle. Plus what a test reads back from the page once the browser script has checked the
 * provenance chain (contract: src/web/checks.ts).
 */

import { expect } from "vitest";
import type { Page } from "playwright-core";
import { signReview, type AiAttribute } from "../../src/core/index.js";
import { CHAIN, type CheckId, type CheckStatus } from "../../src/web/checks.js";
import { encodeName, fileDigests, newPublisher, signedParts, uploadBody, type Publisher } from "../helpers/publisher.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { npmTarball } from "../helpers/tarball.js";

export const REGISTRY_NAME = "Acme Team Registry";
export const PACKAGE = "@acme/widget";

export const AI: AiAttribute = { contribution: "assisted", tools: [{ name: "editor-assist", version: "2.1" }], models: [{ name: "model-x", provider: "example" }] };

export interface World {
  registry: TestRegistry;
  publisher: Publisher;
  /** A publish token for @acme. */
  token: string;
}

export interface Published {
  name: string;
  version: string;
  /** The npm tarball, exactly as published. */
  bytes: Uint8Array;
}

/** A request to the registry's HTTP API (not a page): JSON bodies are sent as JSON. */
export async function api(world: World, method: string, path: string, options: { body?: unknown; token?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  let body: BodyInit | undefined;
  if (options.body instanceof Uint8Array) body = options.body as Uint8Array<ArrayBuffer>;
  else if (typeof options.body === "string") body = options.body;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers["content-type"] ??= "application/json";
  }
  return fetch(`${world.registry.url}${path}`, { method, headers, body });
}

export const admin = (world: World, method: string, path: string, body?: unknown) => api(world, method, `/-/countersign/v1/admin${path}`, { token: world.registry.adminToken, body });

/** The native API's path of a version (and its sub-resources). */
export const versionPath = (name: string, version: string) => `/-/countersign/v1/packages/${encodeName(name)}/${version}`;
/** The web UI's page of a package, as npmjs.com spells it: `/package/@scope/name[/v/<version>]`. */
export const pagePath = (name: string, version?: string) => `/package/${name.split("/").map(encodeURIComponent).join("/").replace(/^%40/, "@")}${version === undefined ? "" : `/v/${encodeURIComponent(version)}`}`;
/** Whether a URL is that page, however its name is escaped (`@` or `%40`). */
export const isPagePath = (name: string, version?: string) => (url: URL) => decodeURIComponent(url.pathname) === `/package/${name}${version === undefined ? "" : `/v/${version}`}`;

/** A registry with @acme, an enrolled publisher (labelled; a new one unless given) and a publish token. */
export async function startWorld(options: { vars?: Record<string, string>; publisher?: Publisher } = {}): Promise<World> {
  const registry = await startRegistry({ name: REGISTRY_NAME, vars: options.vars });
  const publisher = options.publisher ?? (await newPublisher());
  const world: World = { registry, publisher, token: "" };
  await expectStatus(admin(world, "POST", "/namespaces", { namespace: "@acme" }), 201);
  await expectStatus(admin(world, "POST", "/namespaces/@acme/keys", { publicKey: publisher.publicKey, label: "alice (release laptop)" }), 201);
  world.token = ((await (await admin(world, "POST", "/tokens", { scope: "publish", namespaces: ["@acme"] })).json()) as { token: string }).token;
  return world;
}

/** Publishes an npm package through the native API, its statement carrying the per-file digests (and `ai`, if given). */
export async function publish(world: World, manifest: Record<string, unknown> & { name: string; version: string }, files: Record<string, string>, ai?: AiAttribute): Promise<Published> {
  return publishBytes(world, { name: manifest.name, version: manifest.version, bytes: await npmTarball(manifest, files) }, ai);
}

/** Publishes these exact tarball bytes (e.g. the same package on a second registry). */
export async function publishBytes(world: World, published: Published, ai?: AiAttribute): Promise<Published> {
  const { name, version, bytes } = published;
  const attributes = { files: await fileDigests(bytes), ...(ai ? { ai } : {}) };
  const body = await uploadBody(await signedParts(world.publisher, name, version, bytes, { attributes }));
  await expectStatus(api(world, "PUT", versionPath(name, version), { body, token: world.token, headers: { "content-type": "application/x-tar" } }), 201);
  return published;
}

/** A review of a published version, signed by a fresh reviewer key, attached through the API. */
export async function review(world: World, published: Published, note: string): Promise<void> {
  const digest = async (algorithm: string) => Buffer.from(await crypto.subtle.digest(algorithm, published.bytes as Uint8Array<ArrayBuffer>)).toString("hex");
  const digests = { sha256: await digest("SHA-256"), sha512: await digest("SHA-512") };
  const envelope = await signReview({ name: published.name, version: published.version, digests }, (await newPublisher()).signer, { note });
  await expectStatus(api(world, "POST", `${versionPath(published.name, published.version)}/reviews`, { body: envelope, token: world.token }), 201);
}

/** npm deprecate, as npm sends it: the packument back with `deprecated` set on a version. */
export async function deprecate(world: World, name: string, version: string, message: string): Promise<void> {
  await expectStatus(api(world, "PUT", `/${encodeName(name)}`, { body: { name, versions: { [version]: { deprecated: message } } }, token: world.token }), 200);
}

/** The bundle's JSON, once a log round has added its tlogProof (publishing usually waits for one; this makes sure). */
export async function loggedBundle(world: World, name: string, version: string, headers: Record<string, string> = {}): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await api(world, "GET", versionPath(name, version), { headers });
    expect(res.status).toBe(200);
    const bundle = (await res.json()) as Record<string, unknown>;
    if (typeof bundle.tlogProof === "string") return bundle;
    if (Date.now() > deadline) throw new Error(`${name}@${version} has no tlogProof after 30 s: no log round ran`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function expectStatus(response: Promise<Response>, status: number): Promise<void> {
  const res = await response;
  if (res.status !== status) throw new Error(`${res.url}: expected ${status}, got ${res.status} ${await res.text()}`);
}

export interface CheckResult {
  status: CheckStatus;
  /** The link's `.detail` text: why, when it failed. */
  detail: string;
  /** The link's `.status` text. */
  label: string;
}

export interface PageChecks {
  checks: Record<CheckId, CheckResult>;
  files: Record<string, CheckStatus>;
  checkedAgainst: string;
}

/** The page's chain as it stands now. */
export async function readChecks(page: Page): Promise<PageChecks> {
  return page.evaluate(() => {
    const checks: Record<string, { status: string; detail: string; label: string }> = {};
    for (const li of Array.from(document.querySelectorAll<HTMLElement>("section#provenance li[data-check]"))) {
      checks[li.dataset.check!] = { status: li.dataset.status ?? "", detail: li.querySelector(".detail")?.textContent?.trim() ?? "", label: li.querySelector(".status")?.textContent?.trim() ?? "" };
    }
    const files: Record<string, string> = {};
    for (const tr of Array.from(document.querySelectorAll<HTMLElement>("tr[data-file]"))) files[tr.dataset.file!] = tr.dataset.status ?? "";
    return { checks, files, checkedAgainst: document.getElementById("checked-against")?.textContent?.replace(/\s+/g, " ").trim() ?? "" };
  }) as Promise<PageChecks>;
}

/** Waits until the browser script has settled every link and file row (none `pending`), and returns them. */
export async function settledChecks(page: Page, timeoutMs = 20_000): Promise<PageChecks> {
  try {
    await page.waitForFunction(
      () => {
        const all = Array.from(document.querySelectorAll<HTMLElement>("section#provenance li[data-check], tr[data-file]"));
        return all.length > 0 && all.every((el) => el.dataset.status && el.dataset.status !== "pending");
      },
      undefined,
      { timeout: timeoutMs, polling: 100 },
    );
  } catch (err) {
    const now = await readChecks(page).catch(() => null);
    throw new Error(`the browser script did not settle the chain within ${timeoutMs} ms; it stands at ${JSON.stringify(now)}`, { cause: err });
  }
  return readChecks(page);
}

/** `{ id: status }` of every link, to compare in one assertion. */
export const statuses = (checks: PageChecks) => Object.fromEntries(CHAIN.map((id) => [id, checks.checks[id]?.status])) as Record<CheckId, CheckStatus>;

/** Collects what must never happen on a page: dialogs (alert), uncaught errors, CSP violations. */
export function watchPage(page: Page): { dialogs: string[]; errors: string[]; csp: string[]; console: string[] } {
  const seen = { dialogs: [] as string[], errors: [] as string[], csp: [] as string[], console: [] as string[] };
  page.on("dialog", (dialog) => {
    seen.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss().catch(() => undefined);
  });
  page.on("pageerror", (err) => seen.errors.push(err.message));
  page.on("console", (message) => {
    const text = message.text();
    seen.console.push(`${message.type()}: ${text}`);
    if (/Content[- ]Security[- ]Policy/i.test(text)) seen.csp.push(text);
  });
  return seen;
}

/** Every link of the chain verified: what a genuine version with reviews, AI and an npm key shows. */
export const ALL_VERIFIED = {
  identity: "verified",
  publisher: "verified",
  countersignature: "verified",
  log: "verified",
  artifact: "verified",
  files: "verified",
  ai: "verified",
  reviews: "verified",
  "npm-signature": "verified",
} as const;
