/**
 * @module
 * Signed attributes of the publish statement (docs/PROTOCOL.md §5.1): facts the publisher
 * asserts under its signature, which the registry cannot change without breaking it and which
 * consumer policy (policy.ts) can rely on.
 *
 * - `ai`: whether and how AI contributed — the extent, the tools and models (name, version,
 *   provider), optionally which files, and optionally a SHA-256 commitment to the prompt or
 *   session transcript (the transcript itself stays private). Human review is not an attribute
 *   the publisher can assert: it is a separate statement signed by the reviewer (review.ts).
 * - `files`: every entry of an npm package with its SHA-256 and size (or its link target), as
 *   core/package.ts reads it; the registry recomputes the list from the uploaded tarball and
 *   refuses a mismatch, and the runtime hook checks loaded modules against it.
 */

import * as z from "zod/mini";
import { hex, ShortText, Size } from "./fields.js";
import type { PackageFile } from "./package.js";

export const AI_CONTRIBUTIONS = ["none", "assisted", "generated"] as const;
export type AiContribution = (typeof AI_CONTRIBUTIONS)[number];

const Component = z.strictObject({
  name: ShortText(128),
  version: z.optional(ShortText(64)),
  provider: z.optional(ShortText(128)),
});

export const AiAttribute = z.strictObject({
  /** none: no AI involvement; assisted: human-written with AI help; generated: mostly AI-written. */
  contribution: z.enum(AI_CONTRIBUTIONS),
  tools: z.array(Component).check(z.maxLength(32)),
  models: z.array(Component).check(z.maxLength(32)),
  /** Package-relative paths AI contributed to, when the publisher records them. */
  files: z.optional(z.array(ShortText(1024)).check(z.maxLength(100_000))),
  /** SHA-256 of the prompt or session transcript: a commitment, not the content. */
  session: z.optional(z.strictObject({ sha256: hex(32) })),
});

export const FileEntry = z.union([
  z.strictObject({ path: ShortText(1024), size: Size, sha256: hex(32) }),
  z.strictObject({ path: ShortText(1024), size: z.literal(0), link: ShortText(1024) }),
]);

/** Unknown attribute names are rejected, so none can be smuggled in unseen. */
export const Attributes = z.strictObject({
  ai: z.optional(AiAttribute),
  files: z.optional(z.array(FileEntry).check(z.maxLength(100_000))),
});

export type Attributes = z.infer<typeof Attributes>;
export type AiAttribute = z.infer<typeof AiAttribute>;
export type FileEntry = z.infer<typeof FileEntry>;

/** The file list as it goes into a statement, from core/package.ts's reading of a tarball. */
export function fileEntries(files: PackageFile[]): FileEntry[] {
  return files.map((f) => (f.link !== undefined ? { path: f.path, size: 0 as const, link: f.link } : { path: f.path, size: f.size, sha256: f.sha256! }));
}

/** Compares a signed file list with a recomputed one; returns the first difference, if any. */
export function diffFiles(signed: FileEntry[], actual: FileEntry[]): string | undefined {
  const byPath = new Map(actual.map((f) => [f.path, f]));
  for (const s of signed) {
    const a = byPath.get(s.path);
    if (!a) return `"${s.path.slice(0, 200)}" is signed but not in the tarball`;
    if (JSON.stringify(a) !== JSON.stringify(s)) return `"${s.path.slice(0, 200)}" differs from its signed digest`;
    byPath.delete(s.path);
  }
  const [extra] = byPath.keys();
  return extra === undefined ? undefined : `"${extra.slice(0, 200)}" is in the tarball but not in the signed list`;
}
