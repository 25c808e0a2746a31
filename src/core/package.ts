/**
 * @module
 * Reading an npm package tarball (gzip + ustar) with Web streams: its `package.json`, and every
 * entry's path, size and sha256, under rules that refuse the archive tricks extractors disagree on.
 *
 * Rules (docs/PROTOCOL.md §10):
 * - every entry lives under `package/` (npm pack's layout); the path is relative, uses `/`, and
 *   has no empty, `.` or `..` segment, no backslash and no control character;
 * - entries are regular files, directories, or links whose target stays inside the package
 *   (symbolic links resolved from their directory; hard links to an earlier entry);
 * - no path appears twice (extractors keep the last copy, scanners often read the first);
 * - `package/package.json` exists, is at most 1 MiB of JSON, and is an object;
 * - at most 100 000 entries and 1 GiB unpacked (a gzip bomb stops here).
 *
 * The file hash is injected (like noble's hash slot) so each runtime streams with its native
 * digest: workerd's DigestStream, Node's createHash.
 */

import { createTarDecoder, type ParsedTarEntry } from "modern-tar";
import { bufferSource, fromUtf8 } from "./bytes.js";
import { fail, ok, type Result } from "./result.js";

export const PACKAGE_ROOT = "package/";
export const MAX_ENTRIES = 100_000;
export const MAX_UNPACKED_BYTES = 1024 * 1024 * 1024;
export const MAX_MANIFEST_BYTES = 1024 * 1024;

/** One entry of a package, with its path relative to `package/`. */
export interface PackageFile {
  path: string;
  size: number;
  /** hex SHA-256 of the contents; absent for links */
  sha256?: string;
  /** for links: the target, as written in the archive */
  link?: string;
}

export interface PackageContents {
  manifest: Record<string, unknown>;
  /** Regular files and links, sorted by path (UTF-16 code unit order). Directories are omitted. */
  files: PackageFile[];
}

/** Consumes a stream and returns its hex SHA-256. */
export type StreamHasher = (stream: ReadableStream<Uint8Array>) => Promise<string>;

const GZIP_MAGIC = [0x1f, 0x8b];

export function isGzip(head: Uint8Array): boolean {
  return head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
}

/** Checks an entry path; returns the path relative to `package/`, or the problem. */
export function checkEntryPath(name: string): { path: string } | { problem: string } {
  if (/[\x00-\x1f\x7f\\]/.test(name)) return { problem: `entry "${safe(name)}" has a control character or backslash` };
  const trimmed = name.endsWith("/") ? name.slice(0, -1) : name;
  if (trimmed.startsWith("/")) return { problem: `entry "${safe(name)}" is an absolute path` };
  const segments = trimmed.split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) return { problem: `entry "${safe(name)}" has an empty, "." or ".." segment` };
  if (segments[0] !== "package") return { problem: `entry "${safe(name)}" is outside package/` };
  return { path: segments.slice(1).join("/") };
}

/** Resolves a symbolic link target relative to its entry; undefined if it leaves the package. */
function symlinkTarget(entryPath: string, target: string): string | undefined {
  if (target.startsWith("/") || target.includes("\\")) return undefined;
  const parts = entryPath.split("/").slice(0, -1);
  for (const segment of target.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else parts.push(segment);
  }
  return parts.join("/");
}

/**
 * Reads a gzip-compressed npm package tarball. Returns `notPackage` for input that is not a gzip
 * tar with `package/package.json` at all (any other artifact), and an error for a package that
 * breaks the rules above.
 */
export async function readPackage(gzipped: ReadableStream<Uint8Array>, hash: StreamHasher): Promise<Result<PackageContents, string> | { notPackage: true }> {
  // (The cast reconciles DOM and Workers typings of DecompressionStream; both are Web streams.)
  const gunzip = new DecompressionStream("gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>;
  const entries = gzipped.pipeThrough(gunzip).pipeThrough(createTarDecoder({ strict: true })).getReader();
  const files = new Map<string, PackageFile>();
  const directories = new Set<string>();
  let manifestBytes: Uint8Array | undefined;
  let count = 0;
  let unpacked = 0;
  const refuse = async (problem: string) => {
    await entries.cancel().catch(() => undefined);
    return fail(problem);
  };

  for (;;) {
    let read: ReadableStreamReadResult<ParsedTarEntry>;
    try {
      read = await entries.read();
    } catch {
      // Not gzip, not tar, or truncated: a package we already recognised is malformed, anything else is just not a package.
      return manifestBytes || files.size > 0 ? fail("the package tarball is truncated or corrupt") : { notPackage: true };
    }
    if (read.done) break;
    const { header, body } = read.value;
    if (++count > MAX_ENTRIES) return refuse(`more than ${MAX_ENTRIES} entries`);
    unpacked += header.size;
    if (unpacked > MAX_UNPACKED_BYTES) return refuse(`unpacks to more than ${MAX_UNPACKED_BYTES} bytes`);
    const checked = checkEntryPath(header.name);
    if ("problem" in checked) {
      await body.cancel();
      // A tar that does not start under package/ is some other artifact, not an npm package.
      if (count === 1 && !header.name.startsWith(PACKAGE_ROOT.slice(0, -1))) {
        await entries.cancel().catch(() => undefined);
        return { notPackage: true };
      }
      return refuse(checked.problem);
    }
    const path = checked.path;
    const type = header.type ?? "file";
    if (type === "directory") {
      await body.cancel();
      directories.add(path);
      continue;
    }
    if (path === "") return refuse('an entry named "package" that is not a directory');
    if (files.has(path)) {
      await body.cancel();
      return refuse(`entry "package/${safe(path)}" appears twice`);
    }
    if (type === "symlink" || type === "link") {
      await body.cancel();
      const target = header.linkname ?? "";
      const inside = type === "symlink" ? symlinkTarget(path, target) : checkEntryPath(target);
      const resolved = typeof inside === "string" ? inside : inside && "path" in inside ? inside.path : undefined;
      if (resolved === undefined || resolved === "") return refuse(`link "package/${safe(path)}" points outside the package`);
      if (type === "link" && !files.has(resolved)) return refuse(`hard link "package/${safe(path)}" does not point to an earlier file`);
      files.set(path, { path, size: 0, link: target });
      continue;
    }
    if (type !== "file") {
      await body.cancel();
      return refuse(`entry "package/${safe(path)}" is a ${type}, not a file, directory or link`);
    }
    if (path === "package.json") {
      if (header.size > MAX_MANIFEST_BYTES) return refuse(`package.json is larger than ${MAX_MANIFEST_BYTES} bytes`);
      manifestBytes = new Uint8Array(await new Response(body).arrayBuffer());
      files.set(path, { path, size: header.size, sha256: await hash(new Blob([bufferSource(manifestBytes)]).stream()) });
    } else {
      files.set(path, { path, size: header.size, sha256: await hash(body) });
    }
  }

  if (!manifestBytes) return files.size === 0 && directories.size === 0 ? { notPackage: true } : fail("package/package.json is missing");
  let manifest: unknown;
  try {
    manifest = JSON.parse(fromUtf8(manifestBytes));
  } catch {
    return fail("package/package.json is not UTF-8 JSON");
  }
  if (typeof manifest !== "object" || manifest === null || Array.isArray(manifest)) return fail("package/package.json is not a JSON object");
  const sorted = [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return ok({ manifest: manifest as Record<string, unknown>, files: sorted });
}

function safe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 120);
}
