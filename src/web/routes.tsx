/**
 * @module
 * The web UI, server-rendered by the Worker (Hono JSX), for browsers only:
 *
 *     GET  /                                  home: identity, namespaces, recent publications
 *     GET  /search?q=&from=                   packages whose name contains q
 *     GET  /package/<name>[/v/<version>]      a package and one version's provenance chain
 *     GET  /-/web/style.<hash>.css, /-/web/verify.<hash>.js   immutable assets
 *     GET|POST /-/web/login, POST /-/web/logout             READ_ACCESS=token: a session cookie
 *
 * `/`, `/search` and `/package/…` are also npm URLs (the identity pointer, the packuments of
 * packages named `search` and `package`): a page is served only when the request accepts
 * text/html, which npm, pnpm, yarn and bun never send; anything else falls through to the API.
 *
 * Every page is sent with a Content-Security-Policy that allows only this origin's script and
 * stylesheet, so even a rendering bug cannot run a README's script. Package pages are cached at
 * the edge under the package's revision (the key the packument cache uses, so a write makes the
 * old page unreachable everywhere at once).
 */

import { Hono } from "hono";
import type { Child } from "hono/jsx";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { logUrl, namespaceOf, WELL_KNOWN_PATH } from "../core/index.js";
import { loggedRotations } from "../worker/signing-key.js";
import { readToken, requireToken, SESSION_COOKIE } from "../worker/auth.js";
import { edgeCache, registryOrigin, waitUntil, type AppContext, type AppEnv } from "../worker/context.js";
import { ApiError, notFound } from "../worker/errors.js";
import { readBounded } from "../worker/json.js";
import { namePaths, nameParam } from "../worker/names.js";
import { BROWSER_SCRIPT, BROWSER_SCRIPT_VERSION } from "./generated/browser-script.js";
import { chainFacts, jsonObject } from "./chain.js";
import { renderReadme } from "./markdown.js";
import { HomePage } from "./pages/home.js";
import type { Site } from "./pages/layout.js";
import { MessagePage, SignInPage } from "./pages/message.js";
import { PackagePage, type VersionSummary } from "./pages/package.js";
import { SEARCH_PAGE_SIZE, SearchPage } from "./pages/search.js";
import { STYLESHEET } from "./styles.js";

export const STYLESHEET_PATH = `/-/web/style.${shortHash(STYLESHEET)}.css`;
export const SCRIPT_PATH = `/-/web/verify.${BROWSER_SCRIPT_VERSION}.js`;

export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** How long a browser may keep a session cookie. */
const SESSION_SECONDS = 7 * 86_400;
/** An edge-cached page is found by its package's revision; expiry only bounds how long an unused one stays. */
const PAGE_CACHE_SECONDS = 86_400;

export const webRoutes = new Hono<AppEnv>();

webRoutes.onError((err, c) => {
  const site = siteOf(c);
  if (err instanceof ApiError) return page(c, <MessagePage site={site} title={err.status === 404 ? "Not found" : "Something is wrong with this request"} message={err.message} />, err.status);
  console.error(`internal error on ${c.req.method} ${new URL(c.req.url).pathname}: ${err instanceof Error ? err.name : typeof err}`);
  return page(c, <MessagePage site={site} title="Internal error" message="The registry could not make this page. Try again in a moment." />, 500);
});

const wantsHtml = (c: AppContext) => (c.req.header("accept") ?? "").includes("text/html");

webRoutes.get(STYLESHEET_PATH, (c) => c.body(STYLESHEET, 200, asset("text/css; charset=utf-8")));
webRoutes.get(SCRIPT_PATH, (c) => c.body(BROWSER_SCRIPT, 200, asset("text/javascript; charset=utf-8")));

webRoutes.get("/", async (c, next) => {
  if (!wantsHtml(c)) return next();
  const denied = await signInFirst(c);
  if (denied) return denied;
  const { meta, signer } = c.var.deps;
  const [{ namespaces, recent }, key] = await Promise.all([meta.recentPublications(20), signer()]);
  const origin = registryOrigin(c);
  const home = <HomePage site={siteOf(c)} fingerprint={key.keyid} identityUrl={`${origin}${WELL_KNOWN_PATH}`} logUrl={logUrl(origin)} namespaces={namespaces} recent={recent} />;
  return page(c, home, 200, "max-age=30");
});

webRoutes.get("/search", async (c, next) => {
  if (!wantsHtml(c)) return next();
  const denied = await signInFirst(c);
  if (denied) return denied;
  const query = (c.req.query("q") ?? "").trim().slice(0, 256);
  const fromText = c.req.query("from") ?? "0";
  const from = /^[0-9]{1,6}$/.test(fromText) ? Number(fromText) : 0;
  const { total, results } = await c.var.deps.meta.search(query, SEARCH_PAGE_SIZE, from);
  const rows = results.map((r) => ({ ...r, description: description(r.manifest) }));
  return page(c, <SearchPage site={siteOf(c)} query={query} from={from} total={total} results={rows} />, 200, "max-age=30");
});

const packagePage = async (c: AppContext, next: () => Promise<void>) => {
  if (!wantsHtml(c)) return next();
  const denied = await signInFirst(c);
  if (denied) return denied;
  const name = nameParam(c);
  const version = c.req.param("version") ?? null;
  const { meta, signer } = c.var.deps;
  const origin = registryOrigin(c);
  const cache = edgeCache();
  const revision = cache ? await meta.packumentRevision(name) : null;
  const key = revision === null ? null : pageCacheKey(origin, name, version, revision);
  const hit = key && cache ? await cache.match(key) : undefined;
  if (hit) return withPageHeaders(c, new Response(hit.body, { status: 200, headers: { "Content-Type": "text/html; charset=utf-8" } }), "max-age=30");

  const [source, key2, rotated] = await Promise.all([meta.packumentSource(name, false), signer(), meta.rotations()]);
  if (source.versions.length === 0) throw notFound(`${name} is not in this registry`);
  const rows = source.versions;
  const shownRow = version === null ? (rows.find((v) => v.version === source.tags.latest) ?? rows[rows.length - 1]!) : rows.find((v) => v.version === version);
  if (!shownRow) throw notFound(`${name} has no version ${version!.slice(0, 64)}`);
  const summary = (v: (typeof rows)[number]): VersionSummary => ({
    version: v.version,
    sequence: v.sequence,
    publishedAt: v.publishedAt,
    deprecated: v.deprecated,
    publisherKeyid: v.publisherKeyid,
    publisherLabel: v.publisherLabel ?? null,
  });
  const chain = await chainFacts(shownRow, { origin, signer: key2, rotations: loggedRotations(rotated) });
  const api = `/-/countersign/v1/packages/${name}/${shownRow.version}`;
  const manifest = jsonObject(shownRow.manifest);
  const body = await render(
    <PackagePage
      site={siteOf(c)}
      name={name}
      namespace={namespaceOf(name)}
      fingerprint={key2.keyid}
      versions={rows.map(summary)}
      tags={source.tags}
      shown={summary(shownRow)}
      manifest={manifest}
      chain={chain}
      readme={source.readme ? { version: source.readme.version, html: renderReadme(source.readme.text) } : null}
      maintainers={source.maintainers ?? []}
      paths={{ bundle: api, artifact: `${api}/artifact`, reviews: `${api}/reviews`, packumentVersion: shownRow.manifest === null ? null : `/${name}/${shownRow.version}` }}
    />,
  );
  if (key && cache && source.revision === revision) {
    waitUntil(c, cache.put(key, new Response(body, { headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": `public, max-age=${PAGE_CACHE_SECONDS}` } })));
  }
  return withPageHeaders(c, c.body(body, 200, { "Content-Type": "text/html; charset=utf-8" }), "max-age=30");
};
// Both npm shapes of a name, and a scope typed escaped in an address bar (`/package/%40acme/utils`).
for (const suffix of ["", "/v/:version"]) {
  for (const path of namePaths("/package", suffix)) webRoutes.get(path, packagePage);
  webRoutes.get(`/package/:scope{%40[^/%]+}/:base${suffix}`, packagePage);
}

// Sign in: a private registry's pages need a token, which a browser keeps as an HttpOnly cookie.
webRoutes.get("/-/web/login", (c) => {
  const next = safeNext(c.req.query("next"));
  if (c.var.deps.config.readAccess !== "token") return c.redirect(next, 303);
  return page(c, <SignInPage site={siteOf(c)} next={next} />, 200, "no-store");
});

webRoutes.post("/-/web/login", async (c) => {
  sameOriginForm(c);
  const form = new URLSearchParams(new TextDecoder().decode(await readBounded(c.req.raw.body, 4096)));
  const next = safeNext(form.get("next") ?? undefined);
  const token = (form.get("token") ?? "").trim();
  try {
    await requireToken(c.var.deps.meta, token || null);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return page(c, <SignInPage site={siteOf(c)} next={next} problem="That token is not valid or has been revoked." />, 401, "no-store");
  }
  const secure = new URL(c.req.url).protocol === "https:" ? "; Secure" : "";
  c.header("Set-Cookie", `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_SECONDS}${secure}`);
  return c.redirect(next, 303);
});

webRoutes.post("/-/web/logout", (c) => {
  sameOriginForm(c);
  c.header("Set-Cookie", `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
  return c.redirect("/", 303);
});

/** On a private registry, a browser without a valid session is sent to sign in (null: go on). */
async function signInFirst(c: AppContext): Promise<Response | null> {
  if (c.var.deps.config.readAccess !== "token") return null;
  const token = readToken(c);
  if (token) {
    try {
      await requireToken(c.var.deps.meta, token);
      return null;
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
    }
  }
  const url = new URL(c.req.url);
  return c.redirect(`/-/web/login?next=${encodeURIComponent(url.pathname + url.search)}`, 303);
}

/** A form post from another site is refused (the Origin header browsers send with every POST). */
function sameOriginForm(c: AppContext): void {
  const origin = c.req.header("origin");
  if (origin !== undefined && origin !== new URL(c.req.url).origin && origin !== registryOrigin(c)) throw new ApiError(403, "forbidden", "this form must be sent from this registry's own pages");
}

/** Where to go after signing in: a path on this origin, never another site (`//host`, `/\host`). */
function safeNext(next: string | undefined): string {
  return next && /^\/(?![/\\])[^\s]{0,2000}$/.test(next) ? next : "/";
}

function siteOf(c: AppContext): Site {
  const { config } = c.var.deps;
  return { name: config.name, origin: registryOrigin(c), stylesheet: STYLESHEET_PATH, script: SCRIPT_PATH, private: config.readAccess === "token" };
}

async function render(element: Child): Promise<string> {
  return `<!doctype html>${String(await element)}`;
}

async function page(c: AppContext, element: Child, status: ContentfulStatusCode = 200, cache = "no-store"): Promise<Response> {
  return withPageHeaders(c, c.body(await render(element), status, { "Content-Type": "text/html; charset=utf-8" }), cache);
}

/** `cache` is the browser's max-age (or no-store); pages of a private registry are never shared. */
function withPageHeaders(c: AppContext, response: Response, cache: string): Response {
  const shared = c.var.deps.config.readAccess === "public" && cache !== "no-store";
  response.headers.set("Cache-Control", cache === "no-store" ? "no-store" : `${shared ? "public" : "private"}, ${cache}`);
  response.headers.set("Content-Security-Policy", CONTENT_SECURITY_POLICY);
  response.headers.set("X-Content-Type-Options", "nosniff");
  response.headers.set("Referrer-Policy", "same-origin");
  response.headers.set("Vary", "Accept, Cookie");
  return response;
}

function asset(contentType: string): Record<string, string> {
  return { "Content-Type": contentType, "Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff" };
}

/** Under a reserved host, never served; includes the assets' versions so a deploy never meets pages that name old ones. */
function pageCacheKey(origin: string, name: string, version: string | null, revision: string): Request {
  const assets = `${BROWSER_SCRIPT_VERSION}.${shortHash(STYLESHEET)}`;
  return new Request(`https://cache.countersign.invalid/pages/${assets}/${encodeURIComponent(origin)}/${encodeURIComponent(name)}/${encodeURIComponent(version ?? "")}/${revision}`);
}

function description(manifest: string): string | null {
  const value = jsonObject(manifest)?.description;
  return typeof value === "string" ? value.slice(0, 300) : null;
}

/** FNV-1a of a text, in base 36: a cache-busting name for an asset, not a security property. */
function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return (hash >>> 0).toString(36);
}
