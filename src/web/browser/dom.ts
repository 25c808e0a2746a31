/**
 * @module
 * Wires the chain checks (verify-version.ts) to the package page (contract: src/web/checks.ts):
 * picks the fingerprint to check against and says where it came from, paints each link and file
 * row as its outcome arrives, re-runs everything against a fingerprint the user pins (kept in
 * localStorage per origin), and makes the copy buttons copy.
 *
 * Every string painted here comes from the registry, the publisher or a reviewer, so it is only
 * ever set as textContent or an attribute value, never parsed as markup.
 */

import { isFingerprint } from "../../core/keys.js";
import { CHAIN, DOM, pinnedStorageKey, STATUS_LABELS, type CheckId, type CheckStatus } from "../checks.js";
import { checkVersion, type Outcome, type VersionCheckInput } from "./verify-version.js";

type Source = "url" | "pin" | "page";

/** isFingerprint as a plain test (its type guard would narrow a rejected string to never). */
const validFingerprint = (text: string): boolean => isFingerprint(text);

const CHECKING = "checking in your browser…";
const COPIED_FOR_MS = 1500;

export function startPage(win: Window): void {
  const doc = win.document;
  wireCopyButtons(win);
  const section = doc.getElementById(DOM.section);
  if (!section) return;
  const origin = win.location.origin;
  const links = new Map<CheckId, HTMLElement>();
  for (const li of Array.from(section.querySelectorAll<HTMLElement>("li[data-check]"))) {
    const id = li.getAttribute("data-check") as CheckId;
    if ((CHAIN as readonly string[]).includes(id)) links.set(id, li);
  }
  const rows = new Map<string, HTMLElement[]>();
  for (const tr of Array.from(section.querySelectorAll<HTMLElement>(`tr[${DOM.fileAttribute}]`))) {
    const path = tr.getAttribute(DOM.fileAttribute) ?? "";
    rows.set(path, [...(rows.get(path) ?? []), tr]);
  }
  const checkedAgainst = doc.getElementById(DOM.checkedAgainst);
  const data = (name: string) => section.getAttribute(`data-${name}`) ?? undefined;
  const name = data("name");
  const version = data("version");
  const bundle = data("bundle");
  const artifact = data("artifact");
  const reviews = data("reviews");
  const missing = [["name", name], ["version", version], ["fingerprint", data("fingerprint")], ["bundle", bundle], ["artifact", artifact], ["reviews", reviews]].filter(([, v]) => !v).map(([k]) => `data-${k}`);

  let generation = 0;
  let current: { fingerprint: string; source: Source } | undefined;

  const paintLink = (id: CheckId, status: CheckStatus, label: string, detail: string) => {
    const li = links.get(id);
    if (!li) return;
    li.setAttribute("data-status", status);
    setText(li.querySelector(".status"), label);
    setText(li.querySelector(".detail"), detail);
  };
  const paintRow = (tr: HTMLElement, status: CheckStatus, label: string, detail: string) => {
    tr.setAttribute("data-status", status);
    const cell = tr.querySelector<HTMLElement>(".file-status");
    setText(cell, status === "failed" && detail ? `${label}: ${detail}` : label);
    if (cell) cell.title = detail;
  };

  if (missing.length) {
    const why = `The page does not say what to check (${missing.join(", ")} missing).`;
    for (const id of CHAIN) paintLink(id, "failed", STATUS_LABELS.failed, why);
    for (const trs of rows.values()) for (const tr of trs) paintRow(tr, "failed", STATUS_LABELS.failed, why);
    return;
  }

  const run = (fingerprint: string, source: Source) => {
    const run = ++generation;
    current = { fingerprint, source };
    setText(checkedAgainst, describeSource(fingerprint, source, origin));
    for (const id of CHAIN) paintLink(id, "pending", CHECKING, "");
    for (const trs of rows.values()) for (const tr of trs) paintRow(tr, "pending", CHECKING, "");
    const reported = new Set<string>();
    const report = (outcome: Outcome) => {
      if (run !== generation) return;
      if (outcome.kind === "file") {
        reported.add(outcome.path);
        for (const tr of rows.get(outcome.path) ?? []) paintRow(tr, outcome.status, STATUS_LABELS[outcome.status], outcome.detail);
        return;
      }
      paintLink(outcome.id, outcome.status, STATUS_LABELS[outcome.status], outcome.detail);
      if (outcome.id !== "files") return;
      // Rows the server listed that this browser's check did not reach: nothing verified them.
      const why = outcome.status === "failed" ? outcome.detail : "not in the file list signed in the statement this browser verified";
      for (const [path, trs] of rows) if (!reported.has(path)) for (const tr of trs) paintRow(tr, "failed", STATUS_LABELS.failed, why);
    };
    const input: VersionCheckInput = {
      origin,
      name: name!,
      version: version!,
      fingerprint,
      paths: { bundle: bundle!, artifact: artifact!, reviews: reviews!, packumentVersion: data("packument-version") },
      fetch: (url, init) => win.fetch(url, init),
    };
    checkVersion(input, report).catch((err: unknown) => {
      if (run !== generation) return;
      const why = `the checks stopped with an error: ${err instanceof Error ? err.message : String(err)}`;
      for (const [id, li] of links) if (li.getAttribute("data-status") === "pending") paintLink(id, "failed", STATUS_LABELS.failed, why);
      for (const trs of rows.values()) for (const tr of trs) if (tr.getAttribute("data-status") === "pending") paintRow(tr, "failed", STATUS_LABELS.failed, why);
    });
  };

  // The fingerprint: this browser's pin for the origin > ?fingerprint= > the page's own. A pin
  // wins over the address: a link anyone can send must not replace what the user pinned.
  const storageKey = pinnedStorageKey(origin);
  const pinned = readPin(win, storageKey);
  const input = doc.getElementById(DOM.pinInput) as HTMLInputElement | null;
  if (input && pinned) input.value = pinned;
  const fromUrl = new URLSearchParams(win.location.search).get("fingerprint")?.trim() ?? null;
  if (pinned) {
    run(pinned, "pin");
    if (fromUrl !== null && fromUrl !== pinned) {
      setText(checkedAgainst, `${describeSource(pinned, "pin", origin)} The page's address asked for "${fromUrl.slice(0, 80)}" instead: your pin wins. Paste another fingerprint below to change it.`);
    }
  } else if (fromUrl !== null) run(fromUrl, "url");
  else run(data("fingerprint")!, "page");

  doc.getElementById(DOM.pinForm)?.addEventListener("submit", (event) => {
    event.preventDefault();
    const value = (input?.value ?? "").trim();
    if (!validFingerprint(value)) {
      const still = current ? ` The checks below are still against ${current.fingerprint}.` : "";
      setText(checkedAgainst, `"${value.slice(0, 80)}" is not a registry fingerprint (SHA256: and 43 base64 characters), so nothing was pinned.${still}`);
      return;
    }
    let saved = true;
    try {
      win.localStorage.setItem(storageKey, value);
    } catch {
      saved = false;
    }
    run(value, "pin");
    if (!saved) setText(checkedAgainst, `${describeSource(value, "pin", origin)} (This browser would not store it: it holds for this page only.)`);
  });
}

function describeSource(fingerprint: string, source: Source, origin: string): string {
  switch (source) {
    case "url":
      return validFingerprint(fingerprint)
        ? `Checked against ${fingerprint}, from the ?fingerprint= parameter of this page's address.`
        : `Checked against "${fingerprint.slice(0, 80)}", from the ?fingerprint= parameter of this page's address, which is not a registry fingerprint: nothing can verify against it.`;
    case "pin":
      return `Checked against ${fingerprint}, the fingerprint you pinned for ${origin} in this browser.`;
    case "page":
      return `Checked against ${fingerprint}, the fingerprint this page was loaded with — not a pin of yours; paste your pinned fingerprint to check against it.`;
  }
}

function readPin(win: Window, key: string): string | undefined {
  try {
    const value = win.localStorage.getItem(key);
    return value !== null && isFingerprint(value) ? value : undefined;
  } catch {
    return undefined; // storage disabled: no pin
  }
}

function wireCopyButtons(win: Window): void {
  for (const button of Array.from(win.document.querySelectorAll<HTMLElement>(`[${DOM.copyAttribute}]`))) {
    const label = button.textContent ?? "Copy";
    let timer: ReturnType<typeof setTimeout> | undefined;
    button.addEventListener("click", () => {
      const value = button.getAttribute(DOM.copyAttribute) ?? "";
      const show = (text: string) => {
        button.textContent = text;
        clearTimeout(timer);
        timer = setTimeout(() => (button.textContent = label), COPIED_FOR_MS);
      };
      const clipboard = win.navigator.clipboard as Clipboard | undefined;
      if (!clipboard) return show("Copy failed");
      clipboard.writeText(value).then(
        () => show("Copied"),
        () => show("Copy failed"),
      );
    });
  }
}

function setText(element: Element | null, text: string): void {
  if (element) element.textContent = text;
}
