/** @module The web UI's one stylesheet, served from /-/web/ under a content-hashed name (routes.tsx). */

export const STYLESHEET = `
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --bg: #fff; --panel: #f6f8fa; --line: #d0d7de; --accent: #0b5cad;
  --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --info: #0969da; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --muted: #9198a1; --bg: #0d1117; --panel: #161b22; --line: #30363d; --accent: #4493f8;
  --ok: #3fb950; --bad: #f85149; --warn: #d29922; --info: #58a6ff; } }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: var(--bg); line-height: 1.5; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -9999px; } .skip:focus { left: 1rem; top: 1rem; background: var(--bg); padding: .5rem; z-index: 1; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
header.site { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .75rem 1.5rem; border-bottom: 1px solid var(--line); background: var(--panel); }
header.site .brand { font-weight: 700; text-decoration: none; color: var(--fg); }
header.site form { flex: 1; display: flex; gap: .5rem; max-width: 36rem; }
input[type=search], input[type=text], input[type=password] { flex: 1; padding: .45rem .6rem; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); font: inherit; }
button { padding: .45rem .8rem; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); color: var(--fg); font: inherit; cursor: pointer; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem; }
footer.site { max-width: 72rem; margin: 2rem auto; padding: 0 1.5rem; color: var(--muted); font-size: .875rem; }
h1 { font-size: 1.75rem; margin: 0 0 .25rem; overflow-wrap: anywhere; }
h2 { font-size: 1.2rem; margin: 1.75rem 0 .5rem; }
h3 { font-size: 1rem; margin: 0; }
section > h3 { margin-top: 1rem; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .875em; overflow-wrap: anywhere; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: .75rem; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.layout { display: grid; grid-template-columns: minmax(0, 1fr) 20rem; gap: 2rem; }
@media (max-width: 60rem) { .layout { grid-template-columns: minmax(0, 1fr); } }
aside section { border-bottom: 1px solid var(--line); padding: .75rem 0; }
aside h2 { font-size: .9rem; margin: 0 0 .25rem; color: var(--muted); }
.fingerprint { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
.badge { display: inline-block; border: 1px solid var(--line); border-radius: 999px; padding: 0 .5rem; font-size: .8rem; }
.banner { border: 1px solid var(--warn); border-radius: 6px; padding: .5rem .75rem; margin: 1rem 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .85rem; color: var(--muted); font-weight: 600; }
/* Narrow screens: tighter cells and no publication-number column, so the tables fit 390px; the file table, if it still does not, scrolls inside its <details>. */
@media (max-width: 40rem) { table { font-size: .875rem; } th, td { padding: .3rem .25rem; }
  section[aria-labelledby=versions-heading] :is(th, td):nth-child(3) { display: none; } }
.snippets { display: grid; grid-template-columns: repeat(auto-fit, minmax(16rem, 1fr)); gap: .5rem; }
.snippets figure { margin: 0; } .snippets figcaption { font-size: .85rem; color: var(--muted); }
.snippets pre { margin: .25rem 0 0; }
aside figure { margin: 0 0 .5rem; } aside figcaption { font-size: .85rem; color: var(--muted); } aside pre { margin: .25rem 0 0; }
a + .badge { margin-left: .35rem; }
ol.chain { list-style: none; padding: 0; margin: 0; counter-reset: link; }
ol.chain > li { border: 1px solid var(--line); border-left: 4px solid var(--line); border-radius: 6px; padding: .6rem .9rem; margin: .5rem 0; }
ol.chain > li > header { display: flex; justify-content: space-between; gap: 1rem; flex-wrap: wrap; }
.status { font-weight: 600; margin: 0; }
.status::before { content: "○ "; }
ol.chain > li[data-status=verified] { border-left-color: var(--ok); } [data-status=verified] .status { color: var(--ok); } [data-status=verified] .status::before { content: "✓ "; }
ol.chain > li[data-status=failed] { border-left-color: var(--bad); } [data-status=failed] .status { color: var(--bad); } [data-status=failed] .status::before { content: "✗ "; }
ol.chain > li[data-status=server-checked] { border-left-color: var(--info); } [data-status=server-checked] .status { color: var(--info); } [data-status=server-checked] .status::before { content: "◆ "; }
[data-status=absent] .status { color: var(--muted); } [data-status=absent] .status::before { content: "– "; }
.detail { margin: .25rem 0 0; }
/* Digests, fingerprints and URLs in running text (the script's details, #checked-against) break rather than widen the page. */
main { overflow-wrap: break-word; } .detail, #checked-against { overflow-wrap: anywhere; }
.detail, #checked-against, dl.facts dd, td.mono { overflow-wrap: anywhere; }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .15rem .75rem; margin: .5rem 0 0; font-size: .9rem; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; overflow-wrap: anywhere; }
tr[data-status=verified] .file-status { color: var(--ok); } tr[data-status=failed] .file-status { color: var(--bad); }
details > summary { cursor: pointer; } li[data-check] details { overflow-x: auto; }
tr[data-file] > td:first-child { min-width: 7rem; }
/* Long unbroken words in table cells (names, descriptions, keys) wrap, so a table fits a phone's width; the other cells keep whole words. */
td a, td code, td .muted { overflow-wrap: anywhere; }
.readme { overflow-wrap: anywhere; } .readme img { max-width: 100%; }
.results { list-style: none; padding: 0; } .results li { border-bottom: 1px solid var(--line); padding: .75rem 0; }
.pin-form { display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; margin: .5rem 0; } .pin-form input { min-width: min(20rem, 100%); }
#pinned-fingerprint { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .8rem; }
.pagination { display: flex; gap: 1rem; margin-top: 1rem; }
`;
