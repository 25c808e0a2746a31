/**
 * The web UI (src/web) inside workerd: pages only for browsers (npm's URLs keep their JSON), the
 * provenance chain as the server read it with the hooks the browser script needs, every
 * publisher-supplied string escaped (hostile README, description, deprecation, file names, links,
 * review note), a Content-Security-Policy that forbids inline script, edge caching under the
 * package's revision, and sign-in with an HttpOnly cookie when reads need a token. The browser's
 * own checks run in Chromium: test/browser/.
 */

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { signReview } from "../../src/core/index.js";
import { createApp } from "../../src/worker/app.js";
import { CHAIN } from "../../src/web/checks.js";
import { CONTENT_SECURITY_POLICY, SCRIPT_PATH, STYLESHEET_PATH } from "../../src/web/routes.js";
import { fileDigests, newPublisher, signedParts, uploadBody, type Publisher } from "../helpers/publisher.js";
import { npmTarball } from "../helpers/tarball.js";
import { admin, call, ORIGIN } from "./helpers.js";

const HTML = { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" };
const HOSTILE = `<script>window.pwned=1</script><img src=x onerror="window.pwned=2">`;

let publisher: Publisher;
let token: string;

async function publish(name: string, version: string, manifest: Record<string, unknown>, files: Record<string, string>, ai = false) {
  const bytes = await npmTarball({ name, version, ...manifest }, files);
  const attributes = { files: await fileDigests(bytes), ...(ai ? { ai: { contribution: "assisted" as const, tools: [{ name: "editor-assist", version: "2.1" }], models: [{ name: "model-x", provider: HOSTILE }] } } : {}) };
  const res = await call("PUT", `/-/countersign/v1/packages/${encodeURIComponent(name)}/${version}`, { body: await uploadBody(await signedParts(publisher, name, version, bytes, { attributes })), token });
  expect(res.status, await res.clone().text()).toBe(201);
}

const page = async (path: string, headers: Record<string, string> = HTML) => {
  const res = await call("GET", path, { headers });
  return { res, html: await res.text() };
};

beforeAll(async () => {
  publisher = await newPublisher();
  await admin("POST", "/namespaces", { namespace: "@web" });
  expect((await admin("POST", "/namespaces/@web/keys", { publicKey: publisher.publicKey, label: `laptop ${HOSTILE}` })).status).toBe(201);
  token = ((await (await admin("POST", "/tokens", { scope: "publish", namespaces: ["@web"] })).json()) as { token: string }).token;
  await publish("@web/pkg", "1.0.0", { description: "the first" }, { "index.js": "1;\n", "README.md": "# pkg one\n" });
  await publish(
    "@web/pkg",
    "1.1.0",
    { description: `Evil ${HOSTILE}`, license: `MIT ${HOSTILE}`, homepage: "javascript:alert(1)", repository: { url: "git+https://example.com/web/pkg.git" } },
    {
      "index.js": "module.exports = 2;\n",
      [`lib/${"<img src=x onerror=alert(3)>"}.js`]: "3;\n",
      "README.md": [
        "# Hello",
        "",
        HOSTILE,
        "",
        '<a href="javascript:alert(4)">raw link</a>',
        "",
        "[md link](javascript:alert(5)) [data link](data:text/html;base64,PHNjcmlwdD4=) [ok](https://example.com/docs)",
        "",
        "![tracker](http://insecure.example/x.png) ![relative](./logo.png) ![fine](https://example.com/logo.png)",
        "",
        "```html",
        "<script>alert(6)</script>",
        "```",
      ].join("\n"),
    },
    true,
  );
  const review = await signReview({ name: "@web/pkg", version: "1.1.0", digests: await digestsOf("@web/pkg", "1.1.0") }, (await newPublisher()).signer, { note: `looks fine ${HOSTILE}` });
  expect((await call("POST", "/-/countersign/v1/packages/@web%2fpkg/1.1.0/reviews", { body: review, token })).status).toBe(201);
  await call("PUT", "/@web%2fpkg", { body: { name: "@web/pkg", versions: { "1.0.0": { deprecated: `use 1.1 ${HOSTILE}` } } }, token });
});

async function digestsOf(name: string, version: string) {
  const info = (await (await call("GET", `/-/countersign/v1/packages/${encodeURIComponent(name)}`)).json()) as { versions: { version: string; sha256: string; integrity: string }[] };
  const v = info.versions.find((x) => x.version === version)!;
  const sha512 = [...atob(v.integrity.slice("sha512-".length))].map((ch) => ch.charCodeAt(0).toString(16).padStart(2, "0")).join("");
  return { sha256: v.sha256, sha512 };
}

/** No markup the publisher wrote survives as markup. */
function expectInert(html: string) {
  expect(html).not.toContain("<script>window.pwned");
  expect(html).not.toMatch(/<img[^>]+onerror/i);
  expect(html).not.toMatch(/href="\s*(?:javascript|data|vbscript):/i);
  expect(html).not.toMatch(/<script(?![^>]*src="\/-\/web\/verify\.)/i);
}

describe("pages only for browsers", () => {
  it("GET / is the home page for a browser and the JSON pointer for anything else", async () => {
    const { res, html } = await page("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(html.startsWith("<!doctype html>")).toBe(true);
    expect(html).toContain("@web");
    expect(html).toContain("@web/pkg@1.1.0");
    expect(html).toMatch(/<code id="registry-fingerprint">SHA256:[^<]+<\/code>/);
    expectInert(html);
    const json = await call("GET", "/");
    expect(await json.json()).toMatchObject({ identity: `${ORIGIN}/.well-known/countersign.json` });
  });

  it("/package/<name> and /search are npm URLs too: without text/html they stay npm's", async () => {
    const npm = { accept: "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*" };
    expect((await page("/package/@web/pkg", npm)).res.headers.get("content-type")).toContain("application/json");
    const search = await call("GET", "/search", { headers: npm });
    expect(search.status).toBe(404);
    expect(((await search.json()) as { error: string }).error).toContain("search");
  });

  it("serves its stylesheet and script immutably, and nothing else under /-/web/", async () => {
    const css = await call("GET", STYLESHEET_PATH);
    expect(css.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    const js = await call("GET", SCRIPT_PATH);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect((await call("GET", "/-/web/verify.old.js")).status).toBe(404);
  });
});

describe("the package page", () => {
  it("shows latest with its README, versions, tags, snippets and the chain's facts and hooks", async () => {
    const { res, html } = await page("/package/@web/pkg");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
    expect(res.headers.get("cache-control")).toBe("public, max-age=30");
    expect(res.headers.get("vary")).toBe("Accept, Cookie");
    expect(html).toContain("<h1>@web/pkg</h1>");
    expect(html).toContain('data-name="@web/pkg" data-version="1.1.0"');
    expect(html).toContain('data-bundle="/-/countersign/v1/packages/@web/pkg/1.1.0"');
    expect(html).toContain('data-artifact="/-/countersign/v1/packages/@web/pkg/1.1.0/artifact"');
    expect(html).toContain('data-packument-version="/@web/pkg/1.1.0"');
    for (const id of CHAIN) expect(html).toContain(`<li data-check="${id}" data-status="pending">`);
    expect(html).toContain(publisher.signer.keyid);
    expect(html).toContain("<h2>Hello</h2>"); // the README, rendered (its headings one level down)
    expect(html).toContain("npm install @web/pkg</code>");
    expect(html).toContain("@web:registry=http://registry.test/");
    expect(html).toMatch(/href="\/package\/@web\/pkg\/v\/1\.0\.0"/);
    expect(html).toContain('data-file="index.js"');
    expect(html).toContain("Entry</dt><dd>#"); // the log entry, once a round has run
  });

  it("escapes every string the publisher wrote, and renders no link or image it should not", async () => {
    const { html } = await page("/package/@web/pkg");
    expectInert(html);
    expect(html).toContain("Evil &lt;script&gt;window.pwned=1&lt;/script&gt;");
    expect(html).toContain("&lt;a href=&quot;javascript:alert(4)&quot;&gt;raw link&lt;/a&gt;");
    expect(html).toContain('<a href="https://example.com/docs" rel="nofollow noopener noreferrer ugc">ok</a>');
    expect(html).toContain('<img src="https://example.com/logo.png" alt="fine"');
    expect(html).not.toContain("insecure.example");
    expect(html).not.toContain("./logo.png");
    expect(html).toContain('data-file="lib/&lt;img src=x onerror=alert(3)&gt;.js"');
    expect(html).toContain("looks fine &lt;script&gt;");
    expect(html).toContain("laptop &lt;script&gt;");
    expect(html).toContain("MIT &lt;script&gt;");
    expect(html).not.toContain("javascript:alert(1)"); // the homepage field: not an http(s) URL, not a link
    expect(html).toContain('href="https://example.com/web/pkg"');
  });

  it("/v/<version> shows that version, its deprecation escaped; an unknown one is an HTML 404", async () => {
    expect((await page("/package/%40web/pkg")).html).toContain('data-version="1.1.0"'); // the scope escaped, as typed
    const { html } = await page("/package/@web%2fpkg/v/1.0.0");
    expect(html).toContain('data-version="1.0.0"');
    expect(html).toContain("use 1.1 &lt;script&gt;");
    expectInert(html);
    const missing = await page("/package/@web/pkg/v/9.9.9");
    expect(missing.res.status).toBe(404);
    expect(missing.html).toContain("@web/pkg has no version 9.9.9");
    expect(missing.res.headers.get("content-security-policy")).toBe(CONTENT_SECURITY_POLICY);
    const unknown = await page("/package/@web/nothing");
    expect(unknown.res.status).toBe(404);
    expect(unknown.html).toContain("@web/nothing is not in this registry");
    expect((await page("/package/@web/%3Cscript%3E")).html).not.toContain("<script>");
  });

  it("is cached at the edge under the package's revision: a write shows at once", async () => {
    const app = createApp();
    const get = async () => {
      const ctx = createExecutionContext();
      const res = await app.fetch(new Request(`${ORIGIN}/package/@web/pkg`, { headers: HTML }), env, ctx);
      await waitOnExecutionContext(ctx);
      return res.text();
    };
    const first = await get();
    expect(await get()).toBe(first);
    await call("PUT", "/-/package/@web%2fpkg/dist-tags/beta", { body: '"1.0.0"', token });
    expect(await get()).toContain("beta");
  });
});

describe("search", () => {
  it("lists matching packages with links to their pages, escaped", async () => {
    const { res, html } = await page("/search?q=web%2F");
    expect(res.status).toBe(200);
    expect(html).toContain('<a href="/package/@web/pkg"><strong>@web/pkg</strong></a>');
    expect(html).toContain("1 package.");
    expectInert(html);
    const none = await page(`/search?q=${encodeURIComponent(HOSTILE)}`);
    expect(none.html).toContain("No packages found.");
    expectInert(none.html);
  });

  it("npm search results link to these pages, never npmjs.com", async () => {
    const body = (await (await call("GET", "/-/v1/search?text=web")).json()) as { objects: { package: { links: { npm: string } } }[] };
    expect(body.objects[0]!.package.links.npm).toBe(`${ORIGIN}/package/@web/pkg`);
  });
});

describe("READ_ACCESS=token: pages need a session", () => {
  const app = createApp();
  const tokenEnv = () => ({ ...env, READ_ACCESS: "token" });
  const send = (path: string, init: RequestInit = {}) => app.fetch(new Request(`${ORIGIN}${path}`, { redirect: "manual", ...init, headers: { ...HTML, ...(init.headers as Record<string, string>) } }), tokenEnv(), createExecutionContext());

  it("sends a browser to sign in, sets an HttpOnly SameSite cookie, and reads with it", async () => {
    const anonymous = await send("/package/@web/pkg");
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get("location")).toBe("/-/web/login?next=%2Fpackage%2F%40web%2Fpkg");
    const form = (await send("/-/web/login?next=/package/@web/pkg")).status;
    expect(form).toBe(200);

    const bad = await send("/-/web/login", { method: "POST", body: new URLSearchParams({ token: "cs_wrong", next: "/package/@web/pkg" }), headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("set-cookie")).toBeNull();

    const read = ((await (await admin("POST", "/tokens", { scope: "read" })).json()) as { token: string }).token;
    const signedIn = await send("/-/web/login", { method: "POST", body: new URLSearchParams({ token: read, next: "/package/@web/pkg" }), headers: { "content-type": "application/x-www-form-urlencoded" } });
    expect(signedIn.status).toBe(303);
    expect(signedIn.headers.get("location")).toBe("/package/@web/pkg");
    const cookie = signedIn.headers.get("set-cookie")!;
    expect(cookie).toMatch(/^countersign_session=cs_[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=604800$/);

    const session = cookie.split(";")[0]!;
    const withCookie = await send("/package/@web/pkg", { headers: { cookie: session } });
    expect(withCookie.status).toBe(200);
    expect(withCookie.headers.get("cache-control")).toBe("private, max-age=30");
    // The script's fetches carry the cookie: reads work, writes never do.
    const bundle = await app.fetch(new Request(`${ORIGIN}/-/countersign/v1/packages/@web/pkg/1.1.0`, { headers: { cookie: session } }), tokenEnv(), createExecutionContext());
    expect(bundle.status).toBe(200);
    const write = await app.fetch(new Request(`${ORIGIN}/-/package/@web%2fpkg/dist-tags/next`, { method: "PUT", body: '"1.0.0"', headers: { cookie: session } }), tokenEnv(), createExecutionContext());
    expect(write.status).toBe(401);
  });

  it("never redirects off-site after signing in, and refuses a form posted from another site", async () => {
    const read = ((await (await admin("POST", "/tokens", { scope: "read" })).json()) as { token: string }).token;
    for (const next of ["//evil.example/x", "/\\evil.example", "https://evil.example/", "javascript:alert(1)"]) {
      const res = await send("/-/web/login", { method: "POST", body: new URLSearchParams({ token: read, next }), headers: { "content-type": "application/x-www-form-urlencoded" } });
      expect(res.headers.get("location")).toBe("/");
    }
    const crossSite = await send("/-/web/login", { method: "POST", body: new URLSearchParams({ token: read }), headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" } });
    expect(crossSite.status).toBe(403);
  });
});
