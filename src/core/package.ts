/**
 * @module
 * Reading an npm package tarball (gzip + ustar) with Web streams: its `package.json`, and every
 * entry's path, size and sha256, under rules that refuse the archive tricks extractors disagree on.
 *
 * Rules (docs/PROTOCOL.md §10):
 * - every entry lives under `package/` (npm pack's layout); the path is relative, uses `/`, and
 *   has no empty, `.` or `..` segment, no backslash and no control character;
 * - entries are regular files, directories, or links whose target stays inside the package
 *   (symbolic links resolved from their directory; hard links to an earlier entry); no devices,
 *   FIFOs, contiguous files, GNU long names or pax global headers; pax extended headers only
 *   with known keys (see tarGuard);
 * - no path appears twice (extractors keep the last copy, scanners often read the first);
 * - `package/package.json` exists, is at most 1 MiB of JSON nested at most 64 deep, and is an
 *   object whose `name` and `version` are strings;
 * - any gzip tar is held to these rules (npm extracts any gzip tar as a package), and the gzip
 *   stream is complete with nothing after it;
 * - at most 100 000 entries and 1 GiB unpacked (a gzip bomb stops here).
 *
 * The file hash is injected (like noble's hash slot) so each runtime streams with its native
 * digest: workerd's DigestStream, Node's createHash.
 */

import { createTarDecoder, type ParsedTarEntry } from "modern-tar";
import { bufferSource, fromUtf8 } from "./bytes.js";
import { fail, ok, type Result } from "./result.js";
import { NotTar, safe, TarRefusal, tarGuard } from "./tar-guard.js";

export const PACKAGE_ROOT = "package/";
export const MAX_ENTRIES = 100_000;
export const MAX_UNPACKED_BYTES = 1024 * 1024 * 1024;
export const MAX_MANIFEST_BYTES = 1024 * 1024;
/** A README larger than this is not read into memory at publish (the packument then has none). */
export const MAX_README_FILE_BYTES = 1024 * 1024;
/** How much of a README is kept for the packument: the first 64 KiB of its UTF-8 text. */
export const MAX_README_BYTES = 64 * 1024;

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
  /**
   * The package's README (a regular file at the package root named `README`, `README.md`,
   * `readme.markdown`, … in any case; Markdown preferred, then the first by path), if it is at
   * most MAX_README_FILE_BYTES: its text, cut to MAX_README_BYTES of UTF-8 (at a character
   * boundary). Absent when there is none or it is larger.
   */
  readme?: { path: string; text: string };
}

/** Whether a root path names a README, and how much it is preferred (lower is better), or -1. */
export function readmeRank(path: string): number {
  if (!/^readme(\.[A-Za-z0-9]{1,16})?$/i.test(path)) return -1;
  return /\.(md|markdown)$/i.test(path) ? 0 : 1;
}

/** A README's bytes as text, at most MAX_README_BYTES of UTF-8, cut at a character boundary. */
export function readmeText(bytes: Uint8Array): string {
  let end = Math.min(bytes.length, MAX_README_BYTES);
  // Back off continuation bytes (10xxxxxx) so a multi-byte character is never cut in half.
  if (end < bytes.length) while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return new TextDecoder("utf-8", { fatal: false, ignoreBOM: false }).decode(bytes.subarray(0, end));
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

/** How deep package.json may nest (arrays and objects): deeper JSON is refused at publish. */
export const MAX_MANIFEST_DEPTH = 64;

/**
 * Whether JSON text nests deeper than `max` levels of arrays/objects. A linear scan that never
 * recurses, so it is safe on any input (run it before JSON.parse, whose recursion is not).
 */
export function jsonTooDeep(text: string, max: number = MAX_MANIFEST_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}


/**
 * Reads a gzip-compressed npm package tarball. Returns `notPackage` for input that is not a gzip
 * tar at all (any other artifact), and an error for a gzip tar that breaks the rules above: npm
 * extracts any gzip tar as a package (stripping whatever its top directory is), so a gzip tar is
 * an npm package or refused. A gzip stream must be complete, with nothing after it.
 */
export async function readPackage(input: ReadableStream<Uint8Array>, hash: StreamHasher): Promise<Result<PackageContents, string> | { notPackage: true }> {
  // Only gzip goes to the decompressor: peek at the first two bytes.
  const source = input.getReader();
  const head: Uint8Array[] = [];
  let headBytes = 0;
  try {
    while (headBytes < 2) {
      const chunk = await source.read();
      if (chunk.done) break;
      head.push(chunk.value);
      headBytes += chunk.value.length;
    }
  } catch {
    await source.cancel().catch(() => undefined);
    return { notPackage: true };
  }
  const first = new Uint8Array(Math.min(headBytes, 2));
  let at = 0;
  for (const chunk of head) for (const b of chunk) if (at < first.length) first[at++] = b;
  if (!isGzip(first)) {
    await source.cancel().catch(() => undefined);
    return { notPackage: true };
  }

  // (The cast reconciles DOM and Workers typings of DecompressionStream; both are Web streams.)
  const gunzip = new DecompressionStream("gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>;
  // Both sides of the decompressor are pumped by hand, not with pipeTo/pipeThrough: workerd
  // reports the rejected close() of a truncated stream inside its pipe as an uncaught exception.
  // Here every rejection is handled, and only a failed read of the decompressor's output (a gzip
  // stream that is truncated, corrupt or followed by other bytes) sets `gzipBroken`.
  let gzipBroken = false;
  const writer = gunzip.writable.getWriter();
  writer.closed.catch(() => undefined);
  const feeding = (async () => {
    try {
      for (let next = head.shift(); next; next = head.shift()) await writer.write(next);
      for (let chunk = await source.read(); !chunk.done; chunk = await source.read()) await writer.write(chunk.value);
      await writer.close();
    } catch {
      await writer.abort().catch(() => undefined);
      await source.cancel().catch(() => undefined);
    }
  })();
  const guard = tarGuard();
  const entries = guard.stream.readable.pipeThrough(createTarDecoder({ strict: true })).getReader();
  const inflated = gunzip.readable.getReader();
  const guardWriter = guard.stream.writable.getWriter();
  guardWriter.closed.catch(() => undefined);
  const draining = (async () => {
    try {
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await inflated.read();
        } catch (err) {
          gzipBroken = true;
          throw err;
        }
        if (chunk.done) break;
        await guardWriter.write(chunk.value);
      }
      await guardWriter.close();
    } catch (err) {
      await guardWriter.abort(err).catch(() => undefined);
      await inflated.cancel().catch(() => undefined);
    }
  })();
  const files = new Map<string, PackageFile>();
  const directories = new Set<string>();
  let manifestBytes: Uint8Array | undefined;
  let readme: { path: string; rank: number; bytes: Uint8Array } | undefined;
  let count = 0;
  let unpacked = 0;
  const stop = async () => {
    await entries.cancel().catch(() => undefined);
    await inflated.cancel().catch(() => undefined);
    await source.cancel().catch(() => undefined);
    await Promise.all([feeding, draining]);
  };
  const refuse = async (problem: string) => {
    await stop();
    return fail(problem);
  };
  const GZIP_PROBLEM = "the gzip stream is truncated, corrupt, or followed by other bytes";
  /** A read failed: say why (gzip, a tar rule, or tar framing). */
  const broken = async (err: unknown) => {
    await stop();
    if (err instanceof TarRefusal) return fail(err.message);
    if (gzipBroken) return fail(GZIP_PROBLEM);
    if (err instanceof NotTar) return { notPackage: true } as const;
    // A valid gzip stream that is not tar at all is some other artifact; a tar is a package.
    return guard.headers() === 0 && count === 0 ? ({ notPackage: true } as const) : fail("the package tarball is truncated or corrupt");
  };

  for (;;) {
    let read: ReadableStreamReadResult<ParsedTarEntry>;
    try {
      read = await entries.read();
    } catch (err) {
      return broken(err);
    }
    if (read.done) break;
    const { header, body } = read.value;
    if (++count > MAX_ENTRIES) return refuse(`more than ${MAX_ENTRIES} entries`);
    unpacked += header.size;
    if (unpacked > MAX_UNPACKED_BYTES) return refuse(`unpacks to more than ${MAX_UNPACKED_BYTES} bytes`);
    const checked = checkEntryPath(header.name);
    if ("problem" in checked) {
      await body.cancel().catch(() => undefined);
      return refuse(checked.problem);
    }
    const path = checked.path;
    const type = header.type ?? "file";
    if (type === "directory") {
      await body.cancel().catch(() => undefined);
      directories.add(path);
      continue;
    }
    if (path === "") return refuse('an entry named "package" that is not a directory');
    if (files.has(path)) {
      await body.cancel().catch(() => undefined);
      return refuse(`entry "package/${safe(path)}" appears twice`);
    }
    if (type === "symlink" || type === "link") {
      await body.cancel().catch(() => undefined);
      const target = header.linkname ?? "";
      const inside = type === "symlink" ? symlinkTarget(path, target) : checkEntryPath(target);
      const resolved = typeof inside === "string" ? inside : inside && "path" in inside ? inside.path : undefined;
      if (resolved === undefined || resolved === "") return refuse(`link "package/${safe(path)}" points outside the package`);
      if (type === "link" && !files.has(resolved)) return refuse(`hard link "package/${safe(path)}" does not point to an earlier file`);
      files.set(path, { path, size: 0, link: target });
      continue;
    }
    if (type !== "file") {
      await body.cancel().catch(() => undefined);
      return refuse(`entry "package/${safe(path)}" is a ${type}, not a file, directory or link`);
    }
    try {
      if (path === "package.json") {
        if (header.size > MAX_MANIFEST_BYTES) {
          await body.cancel().catch(() => undefined);
          return refuse(`package.json is larger than ${MAX_MANIFEST_BYTES} bytes`);
        }
        manifestBytes = new Uint8Array(await new Response(body).arrayBuffer());
        files.set(path, { path, size: header.size, sha256: await hash(new Blob([bufferSource(manifestBytes)]).stream()) });
      } else if (header.size <= MAX_README_FILE_BYTES && readmeRank(path) >= 0 && (!readme || readmeRank(path) < readme.rank || (readmeRank(path) === readme.rank && path < readme.path))) {
        // A README small enough to hold: read whole, hashed from memory (as package.json is).
        const bytes = new Uint8Array(await new Response(body).arrayBuffer());
        files.set(path, { path, size: header.size, sha256: await hash(new Blob([bufferSource(bytes)]).stream()) });
        readme = { path, rank: readmeRank(path), bytes };
      } else {
        files.set(path, { path, size: header.size, sha256: await hash(body) });
      }
    } catch (err) {
      return broken(err);
    }
  }
  // The tar ended: the gzip stream must have ended with it, whole and with nothing after it.
  await Promise.all([feeding, draining]);
  if (gzipBroken) return fail(GZIP_PROBLEM);

  if (!manifestBytes) return fail("package/package.json is missing");
  let text: string;
  try {
    text = fromUtf8(manifestBytes);
  } catch {
    return fail("package/package.json is not UTF-8 JSON");
  }
  if (jsonTooDeep(text)) return fail(`package/package.json nests deeper than ${MAX_MANIFEST_DEPTH} levels`);
  let manifest: unknown;
  try {
    manifest = JSON.parse(text);
  } catch {
    return fail("package/package.json is not UTF-8 JSON");
  }
  if (typeof manifest !== "object" || manifest === null || Array.isArray(manifest)) return fail("package/package.json is not a JSON object");
  const record = manifest as Record<string, unknown>;
  for (const field of ["name", "version"] as const) {
    if (typeof record[field] !== "string") return fail(`package/package.json "${field}" is not a string`);
  }
  const sorted = [...files.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return ok({ manifest: record, files: sorted, ...(readme ? { readme: { path: readme.path, text: readmeText(readme.bytes) } } : {}) });
}
