/**
 * @module
 * The contract between the package page the Worker renders (src/web/pages) and the script that
 * checks its provenance chain in the browser (src/web/browser): which links the chain has, the
 * states each can be in, and the DOM hooks that carry them. Nothing here runs crypto.
 *
 * The page renders every link with `data-check="<id>"` and `data-status="pending"` and the facts
 * the server read; the script sets `data-status` and fills the link's `.status` and `.detail`
 * elements. A page without the script (no JavaScript) keeps saying what the server checked.
 */

/** The chain of one version, in the order it is checked and shown. */
export const CHAIN = ["identity", "publisher", "countersignature", "log", "artifact", "files", "ai", "reviews", "npm-signature"] as const;
export type CheckId = (typeof CHAIN)[number];

/**
 * - `pending`: not checked in this browser (yet); the page's initial state.
 * - `verified`: checked in this browser against the fingerprint in use.
 * - `failed`: checked in this browser, and it does not verify; the detail says why.
 * - `absent`: there is nothing to check (no reviews, no npm signing key, not yet in the log).
 * - `server-checked`: a fact the browser cannot check itself; the detail says who checked what.
 */
export const STATUSES = ["pending", "verified", "failed", "absent", "server-checked"] as const;
export type CheckStatus = (typeof STATUSES)[number];

export const CHECK_TITLES: Record<CheckId, string> = {
  identity: "Registry identity",
  publisher: "Publisher signature",
  countersignature: "Registry countersignature",
  log: "Transparency log",
  artifact: "Artifact digests",
  files: "Per-file digests",
  ai: "AI attribute",
  reviews: "Reviews",
  "npm-signature": "npm registry signature",
};

export const STATUS_LABELS: Record<CheckStatus, string> = {
  pending: "not checked in this browser",
  verified: "verified in your browser",
  failed: "does not verify",
  absent: "nothing to check",
  "server-checked": "checked by the registry",
};

/**
 * DOM hooks. The version section carries what the script needs to fetch and check:
 * `data-name`, `data-version`, `data-fingerprint` (the registry key the page was loaded with),
 * `data-artifact` (the artifact's URL path), `data-bundle` (the bundle's), `data-reviews`, and
 * for versions npm installs `data-packument-version` (npm's version document, `/<name>/<version>`;
 * without it the npm signature link is `absent`). Paths are read from the page's own origin only.
 *
 * While a run is in flight every link and row stays `data-status="pending"` with the status text
 * "checking in your browser…"; each then gets its final status, `STATUS_LABELS[status]` as its
 * text, and its `.detail` (rows: `.file-status` text, with the reason when failed, and the reason
 * as its `title`). A row whose path the browser's check did not report is `failed`.
 */
export const DOM = {
  /** The element holding the chain: `<section id="provenance" data-name=… data-version=…>`. */
  section: "provenance",
  /** `<form id="pin-form">` with `<input id="pinned-fingerprint">`: check against another fingerprint. */
  pinForm: "pin-form",
  pinInput: "pinned-fingerprint",
  /** `<p id="checked-against">`: which fingerprint the browser checked against, and where it came from. */
  checkedAgainst: "checked-against",
  /** Per-file rows: `<tr data-file="<path>">` with a `<td class="file-status">`. */
  fileAttribute: "data-file",
  /** Buttons that copy their `data-copy` value to the clipboard. */
  copyAttribute: "data-copy",
} as const;

/** localStorage key of the fingerprint a user pinned for a registry origin on this browser. */
export const pinnedStorageKey = (origin: string) => `countersign.pinned:${origin}`;
