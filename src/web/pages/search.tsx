/** @module Search results: packages whose name contains the text, by their latest version. */

import type { SearchRow } from "../../worker/storage/meta.js";
import { Layout, Time, type Site } from "./layout.js";
import { packagePath } from "./paths.js";

export const SEARCH_PAGE_SIZE = 20;

export function SearchPage(props: { site: Site; query: string; from: number; total: number; results: (SearchRow & { description: string | null })[] }) {
  const { query, from, total, results } = props;
  const page = (start: number) => `/search?q=${encodeURIComponent(query)}${start ? `&from=${start}` : ""}`;
  return (
    <Layout site={props.site} title={query ? `Search: ${query}` : "All packages"} query={query}>
      <h1>{query ? <>Packages matching “{query}”</> : "All packages"}</h1>
      <p class="muted" role="status">
        {total === 0 ? "No packages found." : `${total} package${total === 1 ? "" : "s"}${total > SEARCH_PAGE_SIZE ? `, ${from + 1}–${from + results.length} shown` : ""}.`}
      </p>
      <ul class="results">
        {results.map((r) => (
          <li>
            <a href={packagePath(r.name)}>
              <strong>{r.name}</strong>
            </a>{" "}
            <span class="mono">{r.version}</span>
            {r.description ? <p>{r.description}</p> : null}
            <p class="muted">
              published <Time at={r.publishedAt} /> by {r.publisherLabel || <code>{r.publisherKeyid}</code>}
            </p>
          </li>
        ))}
      </ul>
      <nav class="pagination" aria-label="Result pages">
        {from > 0 ? <a href={page(Math.max(0, from - SEARCH_PAGE_SIZE))}>Previous</a> : null}
        {from + results.length < total ? <a href={page(from + SEARCH_PAGE_SIZE)}>Next</a> : null}
      </nav>
    </Layout>
  );
}
