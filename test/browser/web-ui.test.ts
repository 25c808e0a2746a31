/**
 * The web UI in real headless Chromium against a real registry: the home page, a package page
 * whose whole provenance chain the page's script verifies with WebCrypto (src/web/browser,
 * contract src/web/checks.ts), search, the keyboard and landmark basics, and a package whose
 * every publisher-written string is a script payload that must stay text. Screenshots go to
 * test-results/screenshots/. The attacks are in web-ui-attacks.test.ts, sign-in in web-ui-private.test.ts.
 */

import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { closeBrowser, launchBrowser, newContext, screenshot } from "../helpers/browser.js";
import { AI, ALL_VERIFIED, deprecate, isPagePath, loggedBundle, PACKAGE, pagePath, publish, REGISTRY_NAME, review, settledChecks, startWorld, statuses, watchPage, type World } from "./fixture.js";

/** Every payload sets window.pwned (or opens a dialog) if it ever runs. */
const HOSTILE = `<script>window.pwned=1</script><img src=x onerror="window.pwned=2">`;
const HOSTILE_FILE = `lib/<img src=x onerror=window.pwned=3>.js`;

let world: World;
let browser: Browser;

const README = [
  "# Widget",
  "",
  "A small widget, signed by its publisher and countersigned by the registry.",
  "",
  "```js",
  'const widget = require("@acme/widget");',
  "```",
].join("\n");

beforeAll(async () => {
  // The browser first: without Chromium the file fails at once, leaving no registry behind.
  browser = await launchBrowser();
  world = await startWorld();
  await publish(world, { name: PACKAGE, version: "1.0.0", description: "A widget", license: "MIT" }, { "index.js": "module.exports = 1;\n", "README.md": "# Widget 1.0\n" });
  const latest = await publish(
    world,
    { name: PACKAGE, version: "1.1.0", description: "A widget, now with more widget", license: "Apache-2.0", repository: { url: "git+https://example.com/acme/widget.git" } },
    { "index.js": "module.exports = 2;\n", "lib/util.js": "exports.util = () => 2;\n", "README.md": README },
    AI,
  );
  await review(world, latest, "read every line");
  await publish(
    world,
    { name: "@acme/hostile", version: "0.0.1", description: `Evil ${HOSTILE}`, license: `MIT ${HOSTILE}` },
    {
      "index.js": "1;\n",
      [HOSTILE_FILE]: "2;\n",
      "README.md": ["# Hostile", "", HOSTILE, "", '<a href="javascript:window.pwned=4">raw link</a>', "", "[md link](javascript:window.pwned=5)", "", "```html", "<script>window.pwned=6</script>", "```"].join("\n"),
    },
  );
  await deprecate(world, "@acme/hostile", "0.0.1", `do not use ${HOSTILE}`);
  // The log round has run for every version: each bundle carries its tlogProof.
  for (const [name, version] of [[PACKAGE, "1.0.0"], [PACKAGE, "1.1.0"], ["@acme/hostile", "0.0.1"]] as const) await loggedBundle(world, name, version);
}, 180_000);

afterAll(async () => {
  await closeBrowser(browser);
  await world?.registry.stop().catch(() => undefined);
});

async function open(path: string, options: Parameters<typeof newContext>[1] = {}): Promise<{ page: Page; seen: ReturnType<typeof watchPage> }> {
  const context = await newContext(browser, options);
  const page = await context.newPage();
  const seen = watchPage(page);
  const response = await page.goto(`${world.registry.url}${path}`);
  expect(response?.status(), `GET ${path}`).toBe(200);
  return { page, seen };
}

describe("the home page", () => {
  it("shows the registry's identity fingerprint, its namespaces and the recent publications", async () => {
    const { page, seen } = await open("/");
    expect(await page.title()).toContain(REGISTRY_NAME);
    await expect.poll(() => page.locator("h1").innerText()).toBe(REGISTRY_NAME);
    expect(await page.locator("#registry-fingerprint").innerText()).toBe(world.registry.key.keyid);
    const namespaces = page.locator("section[aria-labelledby=namespaces-heading] tbody tr");
    expect(await namespaces.count()).toBe(1);
    expect(await namespaces.first().innerText()).toContain("@acme");
    const recent = await page.locator("section[aria-labelledby=recent-heading] tbody").innerText();
    for (const entry of [`${PACKAGE}@1.0.0`, `${PACKAGE}@1.1.0`, "@acme/hostile@0.0.1"]) expect(recent).toContain(entry);
    expect(recent).toContain("alice (release laptop)");
    expect(seen.errors).toEqual([]);
    expect(seen.csp).toEqual([]);
    await screenshot(page, "home");
    await page.context().close();
  });
});

describe("links between pages", () => {
  it("home → a recent publication → another version → its namespace's search: every link leads to a page", async () => {
    const { page } = await open("/");
    const follow = async (link: ReturnType<Page["getByRole"]>) => {
      const href = await link.getAttribute("href");
      const [response] = await Promise.all([page.waitForNavigation(), link.click()]);
      expect(response?.status(), `the link to ${href}`).toBe(200);
    };
    await follow(page.getByRole("link", { name: `${PACKAGE}@1.1.0` }));
    expect(isPagePath(PACKAGE, "1.1.0")(new URL(page.url()))).toBe(true);
    expect(await page.locator("section#provenance").getAttribute("data-version")).toBe("1.1.0");
    await follow(page.locator("section[aria-labelledby=versions-heading]").getByRole("link", { name: "1.0.0", exact: true }));
    expect(await page.locator("section#provenance").getAttribute("data-version")).toBe("1.0.0");
    await page.goto(`${world.registry.url}/`);
    await follow(page.locator("section[aria-labelledby=namespaces-heading]").getByRole("link", { name: "@acme" }));
    expect(await page.locator("ul.results > li").count()).toBe(2);
    await page.context().close();
  });
});

describe("a package page", () => {
  it("verifies every link of the chain and every file in the browser (npm signature absent: no NPM_SIGNING_KEY)", async () => {
    const { page, seen } = await open(pagePath(PACKAGE));
    expect(await page.locator("h1").first().innerText()).toBe(PACKAGE);
    expect(await page.locator("section#provenance").getAttribute("data-version")).toBe("1.1.0");
    const checks = await settledChecks(page);
    expect(statuses(checks), JSON.stringify(checks.checks, null, 2)).toEqual({ ...ALL_VERIFIED, "npm-signature": "absent" });
    expect(checks.files).toEqual({ "README.md": "verified", "index.js": "verified", "lib/util.js": "verified", "package.json": "verified" });
    expect(checks.checkedAgainst).toContain(world.registry.key.keyid);
    // Every status shown is the label of its state, for people as well as for the test.
    expect(checks.checks.artifact.label).toBe("verified in your browser");
    expect(seen.errors).toEqual([]);
    expect(seen.csp).toEqual([]);
    await page.locator("section#provenance details").first().evaluate((el) => ((el as HTMLDetailsElement).open = true));
    await screenshot(page, "package");
    await page.context().close();
  });

  it("an older version without reviews: reviews and AI absent, the rest verified", async () => {
    const { page } = await open(pagePath(PACKAGE, "1.0.0"));
    const checks = await settledChecks(page);
    expect(statuses(checks)).toMatchObject({ identity: "verified", publisher: "verified", countersignature: "verified", log: "verified", artifact: "verified", files: "verified", reviews: "absent" });
    expect(["absent", "verified"]).toContain(checks.checks.ai.status);
    await page.context().close();
  });

  it("on a phone-sized screen, in dark mode, nothing is wider than the screen", async () => {
    const { page } = await open("/", { viewport: { width: 390, height: 844 }, colorScheme: "dark", isMobile: true, hasTouch: true });
    for (const [path, shot] of [["/", "home-mobile-dark"], [pagePath(PACKAGE), "package-mobile-dark"], [pagePath("@acme/hostile"), null], ["/search?q=acme", null]] as const) {
      await page.goto(`${world.registry.url}${path}`);
      if (path.startsWith("/package/")) {
        await settledChecks(page);
        await page.locator("section#provenance details").first().evaluate((el) => ((el as HTMLDetailsElement).open = true));
      }
      if (shot) await screenshot(page, shot);
      // Elements that stick out of the screen (a table inside a scrolling <details> may, by design).
      const wide = await page.evaluate(() =>
        Array.from(document.querySelectorAll<HTMLElement>("body *"))
          .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1 && !el.closest("li[data-check] details table, .visually-hidden"))
          .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}${el.className ? `.${String(el.className).replace(/ /g, ".")}` : ""}`)
          .slice(0, 10),
      );
      expect(wide, `${path}: elements wider than the screen`).toEqual([]);
      const width = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }));
      expect(width.scroll, `${path}: the page scrolls sideways`).toBeLessThanOrEqual(width.client);
    }
    await page.context().close();
  });
});

describe("search", () => {
  it("/search?q= lists the package, and its link opens the package page", async () => {
    const { page } = await open("/search?q=widget");
    expect(await page.locator("h1").innerText()).toContain("widget");
    const results = page.locator("ul.results > li");
    expect(await results.count()).toBe(1);
    expect(await results.first().innerText()).toContain("A widget, now with more widget");
    await screenshot(page, "search");
    const link = results.first().getByRole("link", { name: PACKAGE });
    const href = await link.getAttribute("href");
    const [response] = await Promise.all([page.waitForNavigation(), link.click()]);
    expect(isPagePath(PACKAGE)(new URL(page.url())), page.url()).toBe(true);
    expect(response?.status(), `${href} (the link in the results)`).toBe(200);
    expect(await page.locator("h1").first().innerText()).toBe(PACKAGE);
    await settledChecks(page);
    await page.context().close();
  });

  it("the header's search form gets there too", async () => {
    const { page } = await open("/");
    await page.getByRole("searchbox", { name: "Search packages" }).fill("hostile");
    await Promise.all([page.waitForURL("**/search?q=hostile"), page.keyboard.press("Enter")]);
    expect(await page.locator("ul.results > li").count()).toBe(1);
    await page.context().close();
  });
});

describe("keyboard and accessibility basics", () => {
  for (const path of ["/", pagePath(PACKAGE), "/search?q=acme"]) {
    it(`${path}: one h1, header/main/footer landmarks, a labelled search box, lang`, async () => {
      const { page } = await open(path);
      expect(await page.locator("h1").count()).toBe(1);
      expect(await page.getByRole("banner").count()).toBe(1);
      expect(await page.getByRole("main").count()).toBe(1);
      expect(await page.getByRole("contentinfo").count()).toBe(1);
      expect(await page.getByRole("search").count()).toBe(1);
      expect(await page.getByRole("searchbox", { name: "Search packages" }).count()).toBe(1);
      expect(await page.locator("html").getAttribute("lang")).toBe("en");
      // Every form control has an accessible name.
      const unnamed = await page.evaluate(() =>
        Array.from(document.querySelectorAll<HTMLInputElement>("input:not([type=hidden]), button")).filter((el) => !(el.labels?.length || el.getAttribute("aria-label") || el.textContent?.trim())).map((el) => el.outerHTML),
      );
      expect(unnamed).toEqual([]);
      await page.context().close();
    });
  }

  it("Tab first reaches a visible skip link, then focus stays visible (an outline) on what it reaches", async () => {
    const { page } = await open(pagePath(PACKAGE));
    await settledChecks(page);
    await page.keyboard.press("Tab");
    const skip = await page.evaluate(() => {
      const el = document.activeElement as HTMLElement;
      const box = el.getBoundingClientRect();
      return { text: el.textContent?.trim(), href: el.getAttribute("href"), onScreen: box.left >= 0 && box.top >= 0 && box.width > 0 };
    });
    expect(skip).toEqual({ text: "Skip to content", href: "#content", onScreen: true });
    await screenshot(page, "focus-skip-link", { fullPage: false });
    const focused: { tag: string; outline: string }[] = [];
    for (let i = 0; i < 6; i++) {
      await page.keyboard.press("Tab");
      focused.push(
        await page.evaluate(() => {
          const el = document.activeElement as HTMLElement;
          const style = getComputedStyle(el);
          return { tag: `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ""}`, outline: style.outlineStyle === "none" || style.outlineWidth === "0px" ? "none" : `${style.outlineWidth} ${style.outlineStyle}` };
        }),
      );
    }
    expect(focused.filter((f) => f.outline === "none"), JSON.stringify(focused)).toEqual([]);
    expect(focused.map((f) => f.tag)).toContain("input#search-text");
    // The pin form is reachable by keyboard too.
    await page.locator("#pinned-fingerprint").focus();
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).not.toBe("none");
    await page.context().close();
  });
});

describe("hostile content", () => {
  it("no payload in a README, description, license, deprecation message or file name runs; each shows as text", async () => {
    const { page, seen } = await open(pagePath("@acme/hostile"));
    const checks = await settledChecks(page);
    // Hostile strings are still the publisher's signed data: the chain verifies.
    expect(statuses(checks)).toMatchObject({ publisher: "verified", countersignature: "verified", log: "verified", artifact: "verified", files: "verified" });
    expect(checks.files[HOSTILE_FILE]).toBe("verified");
    await page.locator("section#provenance details").first().evaluate((el) => ((el as HTMLDetailsElement).open = true));
    // Anything that would have run has had its chance by now: the checks (after `defer`) are done.
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => (window as { pwned?: unknown }).pwned)).toBeUndefined();
    expect(seen.dialogs).toEqual([]);
    expect(seen.errors).toEqual([]);
    expect(seen.csp, "a payload reached the page as markup (CSP blocked it)").toEqual([]);
    expect(await page.locator("main script, main img[onerror], main [onerror], main a[href^='javascript:' i]").count()).toBe(0);
    const text = await page.locator("main").innerText();
    expect(text).toContain(`Evil ${HOSTILE}`); // description
    expect(text).toContain(`MIT ${HOSTILE}`); // license
    expect(text).toContain(`do not use ${HOSTILE}`); // deprecation
    expect(text).toContain(HOSTILE_FILE); // file name
    expect(await page.locator("article.readme").innerText()).toContain("window.pwned=6"); // in a code block
    // The description is also the page's meta description: an attribute, never markup.
    expect(await page.locator('meta[name="description"]').getAttribute("content")).toBe(`Evil ${HOSTILE}`);
    await screenshot(page, "hostile");
    // The hostile names appear on the home page and in search results too.
    for (const path of ["/", "/search?q=hostile"]) {
      await page.goto(`${world.registry.url}${path}`);
      expect(await page.locator("main").innerText()).toContain(`Evil ${HOSTILE}`);
      expect(await page.evaluate(() => (window as { pwned?: unknown }).pwned)).toBeUndefined();
    }
    expect(seen.dialogs).toEqual([]);
    expect(seen.csp).toEqual([]);
    await page.context().close();
  });
});
