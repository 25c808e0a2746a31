/** @module Links a package.json offers (search results, package pages): only http(s) URLs, so no `javascript:` link reaches a page. */

import { isPlainObject } from "../../core/index.js";

/** `homepage`, `repository` and `bugs` links from a package.json, when they are http(s) URLs. */
export function packageLinks(manifest: Record<string, unknown>): Record<string, string> {
  const url = (value: unknown): string | null => {
    const text = typeof value === "string" ? value : isPlainObject(value) && typeof value.url === "string" ? value.url : null;
    const clean = text?.replace(/^git\+/, "").replace(/\.git$/, "") ?? null;
    return clean && /^https?:\/\/[^\s]{1,2000}$/.test(clean) ? clean : null;
  };
  const links: Record<string, string> = {};
  for (const [field, link] of [["homepage", url(manifest.homepage)], ["repository", url(manifest.repository)], ["bugs", url(manifest.bugs)]] as const) if (link) links[field] = link;
  return links;
}
