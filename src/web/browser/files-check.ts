/**
 * @module
 * The per-file link: the file list the publisher signed (`attributes.files`) against the
 * artifact read in the browser with the registry's own reader (core/package.ts: DecompressionStream
 * and modern-tar, the same rules), each entry hashed with crypto.subtle. Every signed path is
 * reported, and every path in the tarball that was not signed; the link verifies only if all
 * match, nothing is extra, and the artifact itself is the signed one.
 */

import { fileEntries, type Attributes, type FileEntry } from "../../core/attributes.js";
import { bufferSource, toHex } from "../../core/bytes.js";
import { sha256 } from "../../core/digest.js";
import { readPackage, type StreamHasher } from "../../core/package.js";
import type { Result } from "../../core/result.js";
import type { Artifact } from "./bundle-check.js";
import { link, type FileOutcome, type LinkOutcome } from "./outcome.js";

/** WebCrypto has no streaming digest: each entry is collected, then hashed natively. */
const hashEntry: StreamHasher = async (stream) => toHex(await sha256(new Uint8Array(await new Response(stream).arrayBuffer())));

/**
 * `attributes`: the publisher statement's, if its signature verified; `fetched`: the downloaded
 * bytes; `verified`: whether they are the signed artifact. Rows never verify on bytes that are not
 * the signed ones: each then fails, its detail still saying whether that file matches.
 */
export async function checkFiles(attributes: Result<Attributes>, fetched: Result<Artifact>, verified: Result<unknown>): Promise<{ outcome: LinkOutcome; files: FileOutcome[] }> {
  if (!attributes.ok) return { outcome: link("files", "failed", "not checked: the publish statement that would sign the file list does not verify"), files: [] };
  const list = attributes.value.files;
  if (!list) return { outcome: link("files", "absent", "The publish statement signs no file list (not an npm package, or published without one)."), files: [] };
  if (!fetched.ok) return { outcome: link("files", "failed", fetched.error), files: [] };

  const read = await readPackage(new Blob([bufferSource(fetched.value.bytes)]).stream(), hashEntry);
  if ("notPackage" in read) return failAll(list, "the artifact is not an npm package tarball, but the publisher signed a file list for one");
  if (!read.ok) return failAll(list, `the artifact's tarball cannot be read: ${read.error}`);

  const actual = new Map(fileEntries(read.value.files).map((f) => [f.path, f]));
  const files: FileOutcome[] = [];
  const differing: FileOutcome[] = [];
  const whole = verified.ok ? "" : ", but the artifact as a whole does not verify";
  for (const expected of list) {
    const found = actual.get(expected.path);
    actual.delete(expected.path);
    const difference = found ? compare(expected, found) : "signed, but not in the tarball";
    const outcome: FileOutcome = difference
      ? { kind: "file", path: expected.path, status: "failed", detail: difference }
      : { kind: "file", path: expected.path, status: verified.ok ? "verified" : "failed", detail: `matches its signed ${"link" in expected ? "link target" : "sha256 and size"}${whole}` };
    if (difference) differing.push(outcome);
    files.push(outcome);
  }
  for (const extra of actual.keys()) {
    const outcome: FileOutcome = { kind: "file", path: extra, status: "failed", detail: "in the tarball, but not in the signed list" };
    differing.push(outcome);
    files.push(outcome);
  }

  const counted = `${list.length} signed path${list.length === 1 ? "" : "s"}`;
  if (differing.length) {
    const first = differing.slice(0, 3).map((f) => `"${f.path.slice(0, 200)}": ${f.detail}`);
    return { outcome: link("files", "failed", `${differing.length} of the tarball's files differ from the signed list (${counted}): ${first.join("; ")}${differing.length > 3 ? "; …" : ""}.`), files };
  }
  if (!verified.ok) return { outcome: link("files", "failed", `Every one of the ${counted} matches, but the artifact as a whole does not verify (see the artifact digests), so none is verified.`), files };
  return { outcome: link("files", "verified", `All ${counted} of the tarball, read in this browser, match the publisher's signed sha256 and size (links: their targets), and it has no other file.`), files };
}

function failAll(list: FileEntry[], why: string): { outcome: LinkOutcome; files: FileOutcome[] } {
  return { outcome: link("files", "failed", why), files: list.map((f) => ({ kind: "file", path: f.path, status: "failed", detail: why })) };
}

function compare(expected: FileEntry, actual: FileEntry): string | undefined {
  if ("link" in expected || "link" in actual) {
    if (!("link" in expected)) return `signed as a file, but the tarball has a link to ${(actual as { link: string }).link}`;
    if (!("link" in actual)) return `signed as a link to ${expected.link}, but the tarball has a file`;
    return expected.link === actual.link ? undefined : `link target differs (expected ${expected.link}, actual ${actual.link})`;
  }
  if (expected.sha256 !== actual.sha256) return `sha256 differs (expected ${expected.sha256}, actual ${actual.sha256})`;
  if (expected.size !== actual.size) return `size differs (expected ${expected.size}, actual ${actual.size})`;
  return undefined;
}
