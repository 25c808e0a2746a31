/**
 * A private registry (READ_ACCESS=token) in Chromium: a browser is sent to sign in, signs in with a
 * read token through the form (an HttpOnly cookie no script can read), lands on the page it asked
 * for, and the page's own checks still verify: the script's fetches of the bundle, artifact,
 * reviews, identity and npm version document are authorised by that cookie (this registry also
 * has an npm signing key, so the npm registry signature is checked too). Signing out ends it.
 */

import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateNpmSigningKey } from "../../src/core/index.js";
import { closeBrowser, launchBrowser, newContext, screenshot } from "../helpers/browser.js";
import { admin, AI, ALL_VERIFIED, loggedBundle, PACKAGE, pagePath, publish, review, settledChecks, startWorld, statuses, watchPage, type World } from "./fixture.js";

let world: World;
let browser: Browser;
let readToken: string;

beforeAll(async () => {
  browser = await launchBrowser();
  world = await startWorld({ vars: { READ_ACCESS: "token", NPM_SIGNING_KEY: (await generateNpmSigningKey()).secret } });
  const latest = await publish(world, { name: PACKAGE, version: "1.1.0", description: "A private widget" }, { "index.js": "module.exports = 2;\n", "README.md": "# Widget\n" }, AI);
  await review(world, latest, "read every line");
  await loggedBundle(world, PACKAGE, "1.1.0", { authorization: `Bearer ${world.token}` });
  readToken = ((await (await admin(world, "POST", "/tokens", { scope: "read" })).json()) as { token: string }).token;
}, 180_000);

afterAll(async () => {
  await closeBrowser(browser);
  await world?.registry.stop().catch(() => undefined);
});

describe("READ_ACCESS=token", () => {
  it("redirects to sign in; a wrong token is refused; a read token signs in and every check verifies with the cookie, npm's signature too", async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const seen = watchPage(page);
    await page.goto(`${world.registry.url}${pagePath(PACKAGE)}`);
    expect(new URL(page.url()).pathname).toBe("/-/web/login");
    expect(new URL(page.url()).searchParams.get("next")).toBe(pagePath(PACKAGE));
    expect(await page.locator("h1").innerText()).toBe("Sign in");
    await screenshot(page, "private-sign-in");

    await page.getByLabel("Token").fill("cs_not_a_token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").innerText()).toContain("not valid");
    expect(await context.cookies()).toEqual([]);
    await screenshot(page, "private-sign-in-refused");

    await page.getByLabel("Token").fill(readToken);
    await Promise.all([page.waitForURL(`**${pagePath(PACKAGE)}`), page.getByRole("button", { name: "Sign in" }).click()]);
    expect(await page.locator("h1").first().innerText()).toBe(PACKAGE);
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", value: readToken });
    expect(await page.evaluate(() => document.cookie)).toBe(""); // no script can read it

    const checks = await settledChecks(page);
    expect(statuses(checks), JSON.stringify(checks.checks, null, 2)).toEqual(ALL_VERIFIED);
    expect(Object.values(checks.files).every((s) => s === "verified")).toBe(true);
    expect(seen.errors).toEqual([]);
    await screenshot(page, "private-package");

    // Sign out: the cookie is gone and the pages ask to sign in again.
    await Promise.all([page.waitForURL(/\/(-\/web\/login.*)?$/), page.getByRole("button", { name: "Sign out" }).click()]);
    expect(await context.cookies()).toEqual([]);
    await page.goto(`${world.registry.url}${pagePath(PACKAGE)}`);
    expect(new URL(page.url()).pathname).toBe("/-/web/login");
    await context.close();
  });

  it("without a session the API the script uses is closed too", async () => {
    const context = await newContext(browser);
    const page = await context.newPage();
    const status = await page.request.get(`${world.registry.url}/-/countersign/v1/packages/${PACKAGE}/1.1.0`);
    expect(status.status()).toBe(401);
    await context.close();
  });
});
