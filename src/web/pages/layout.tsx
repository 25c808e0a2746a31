/** @module The frame of every page: head, site header with search, footer. */

import type { Child } from "hono/jsx";

export interface Site {
  /** The registry's name (REGISTRY_NAME) and public origin. */
  name: string;
  origin: string;
  /** Content-hashed asset paths (routes.tsx). */
  stylesheet: string;
  script: string;
  /** Reads need a token (READ_ACCESS=token): the header offers to sign out. */
  private: boolean;
}

export function Layout(props: { site: Site; title: string; description?: string; query?: string; children: Child }) {
  const { site } = props;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · ${site.name}`}</title>
        {props.description ? <meta name="description" content={props.description} /> : null}
        <link rel="stylesheet" href={site.stylesheet} />
        <script src={site.script} defer></script>
      </head>
      <body>
        <a class="skip" href="#content">
          Skip to content
        </a>
        <header class="site">
          <a class="brand" href="/">
            {site.name}
          </a>
          <form action="/search" method="get" role="search">
            <label class="visually-hidden" for="search-text">
              Search packages
            </label>
            <input id="search-text" type="search" name="q" value={props.query ?? ""} placeholder="Search packages" maxlength={256} />
            <button type="submit">Search</button>
          </form>
          {site.private ? (
            <form action="/-/web/logout" method="post">
              <button type="submit">Sign out</button>
            </form>
          ) : null}
        </header>
        <main id="content">{props.children}</main>
        <footer class="site">
          <p>
            A countersign registry at <span class="mono">{site.origin}</span>. Every version is signed by its publisher,
            countersigned by this registry and recorded in its transparency log; the checks on package pages run in your browser.
          </p>
        </footer>
      </body>
    </html>
  );
}

/** A button that copies `value` (the script wires it; without JavaScript the value is shown beside it). */
export function CopyButton(props: { value: string; label: string }) {
  return (
    <button type="button" data-copy={props.value} aria-label={props.label}>
      Copy
    </button>
  );
}

/** An ISO timestamp as a <time> element. */
export function Time(props: { at: string }) {
  return <time datetime={props.at}>{props.at.replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC")}</time>;
}

/** A table's header row: one column header per name. */
export function Head(props: { columns: string[] }) {
  return (
    <thead>
      <tr>
        {props.columns.map((column) => (
          <th scope="col">{column}</th>
        ))}
      </tr>
    </thead>
  );
}
