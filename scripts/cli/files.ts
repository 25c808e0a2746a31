/**
 * @module
 * Node-side artifact I/O: native streaming digests (node:crypto, never a JS hash), npm pack for
 * directories, and reading name/version out of an npm tarball.
 */

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, mkdtempSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fileEntries, readPackage, type FileEntry } from "../../src/core/index.js";
import { CliError, EXIT, usageError } from "./errors.js";

export interface FileDigests {
  size: number;
  sha1: string;
  sha256: string;
  sha512: string;
}

/** Size and sha1/sha256/sha512 of bytes fed in chunks, with node:crypto. */
export function artifactHasher(): { update(chunk: Uint8Array): void; size(): number; digests(): FileDigests } {
  const hashes = { sha1: createHash("sha1"), sha256: createHash("sha256"), sha512: createHash("sha512") };
  let size = 0;
  return {
    update(chunk) {
      size += chunk.length;
      for (const h of Object.values(hashes)) h.update(chunk);
    },
    size: () => size,
    digests: () => ({ size, sha1: hashes.sha1.digest("hex"), sha256: hashes.sha256.digest("hex"), sha512: hashes.sha512.digest("hex") }),
  };
}

export async function hashFile(path: string): Promise<FileDigests> {
  const hasher = artifactHasher();
  for await (const chunk of createReadStream(path)) hasher.update(chunk as Buffer);
  return hasher.digests();
}

/** Runs `npm pack` in `dir` and returns the tarball it wrote, with npm's name and version. */
export function npmPack(dir: string): { file: string; name: string; version: string } {
  const out = mkdtempSync(join(tmpdir(), "countersign-pack-"));
  const result = spawnSync("npm", ["pack", "--json", "--pack-destination", out], { cwd: dir, encoding: "utf8", timeout: 120_000 });
  if (result.status !== 0) {
    const reason = (result.stderr || result.error?.message || "").split("\n").find((l) => /error/i.test(l)) ?? `exit ${result.status}`;
    throw new CliError(`npm pack failed in ${dir}: ${reason.trim()}`, EXIT.usage);
  }
  const [packed] = JSON.parse(result.stdout.slice(result.stdout.indexOf("["))) as { filename: string; name: string; version: string }[];
  if (!packed) throw new CliError(`npm pack in ${dir} produced no tarball`);
  return { file: join(out, packed.filename.replace(/^@[^/]+\//, "").replace("/", "-")), name: packed.name, version: packed.version };
}

/** Native SHA-256 of a Web stream: the file hasher for core/package.ts on Node. */
export async function sha256OfStream(stream: ReadableStream<Uint8Array>): Promise<string> {
  const hash = createHash("sha256");
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return hash.digest("hex");
    hash.update(value);
  }
}

/**
 * Reads an npm tarball with the same rules the registry applies (core/package.ts): its name,
 * version and every file's digest. Undefined when the file is not an npm package at all.
 */
export async function readNpmTarball(file: string): Promise<{ name: string; version: string; files: FileEntry[] } | undefined> {
  const result = await readPackage(Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>, sha256OfStream);
  if ("notPackage" in result) return undefined;
  if (!result.ok) throw new CliError(`${file} is not a valid npm package: ${result.error}`, EXIT.usage);
  const { manifest, files } = result.value;
  if (typeof manifest.name !== "string" || typeof manifest.version !== "string") throw new CliError(`${file}: package.json has no name or version`, EXIT.usage);
  return { name: manifest.name, version: manifest.version, files: fileEntries(files) };
}

/** What to publish: the file, its name and version, and for npm packages their file digests. */
export interface Artifact {
  file: string;
  name: string;
  version: string;
  /** Per-file digests, for npm packages. */
  files?: FileEntry[];
  /** The package directory, when publishing a directory. */
  dir?: string;
}

/** Resolves what to publish: a directory (npm pack), an npm tarball, or any file with --name/--version. */
export async function resolveArtifact(path: string, name?: string, version?: string): Promise<Artifact> {
  let stats;
  try {
    stats = statSync(path);
  } catch {
    throw usageError(`${path} does not exist`);
  }
  if (stats.isDirectory()) {
    const packed = npmPack(path);
    if ((name && name !== packed.name) || (version && version !== packed.version)) {
      throw usageError(`${path}/package.json is ${packed.name}@${packed.version}, not ${name ?? packed.name}@${version ?? packed.version}`);
    }
    const contents = await readNpmTarball(packed.file);
    return { ...packed, ...(contents ? { files: contents.files } : {}), dir: path };
  }
  const contents = await readNpmTarball(path);
  if (contents) {
    if ((name && name !== contents.name) || (version && version !== contents.version)) {
      throw usageError(`${path} is an npm tarball of ${contents.name}@${contents.version}, not ${name ?? contents.name}@${version ?? contents.version}`);
    }
    return { file: path, ...contents };
  }
  if (!name || !version) throw usageError(`${path} is not an npm tarball: pass --name and --version`);
  return { file: path, name, version };
}
