/**
 * @module
 * Real headless Chromium for the browser tests (test/browser): Debian's /usr/bin/chromium driven
 * by playwright-core (no browser download, no network). `launchBrowser()` in beforeAll,
 * `closeBrowser()` in afterAll; both bounded in time. `screenshot()` writes
 * test-results/screenshots/<name>.png for a person to look at.
 */

import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type Page } from "playwright-core";
import { ROOT } from "./paths.js";

/** Where Chromium is (COUNTERSIGN_CHROMIUM overrides it, e.g. on a machine with another install). */
export const CHROMIUM = process.env.COUNTERSIGN_CHROMIUM || "/usr/bin/chromium";
export const SCREENSHOTS = join(ROOT, "test-results", "screenshots");

const LAUNCH_MS = 60_000;
const CLOSE_MS = 15_000;

/** Chromium, headless, on a fresh temporary profile; a missing install fails (never skips). */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM}: run \`apt-get install -y chromium\` (or set COUNTERSIGN_CHROMIUM)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: LAUNCH_MS,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** Closes the browser, and gives up waiting (the process is killed with the test run) after CLOSE_MS. */
export async function closeBrowser(browser: Browser | undefined): Promise<void> {
  if (!browser) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([browser.close().catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_MS)))]);
  clearTimeout(timer);
}

/** A fresh context (own cookies and localStorage) with a desktop viewport and short default timeouts. */
export async function newContext(browser: Browser, options: BrowserContextOptions = {}): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(30_000);
  return context;
}

/** Writes test-results/screenshots/<name>.png (the whole page unless `fullPage: false`) and returns its path. */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: options.fullPage ?? true, animations: "disabled" });
  return path;
}
