/**
 * @module
 * Node-side artifact I/O: native streaming digests (node:crypto, never a JS hash), npm pack for
 * directories, and reading name/version out of an npm tarball.
 */

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unpackTar } from "modern-tar";
import { CliError, EXIT, usageError } from "./errors.js";

export interface FileDigests {
  size: number;
  sha1: string;
  sha256: string;
  sha512: string;
}

export async function hashFile(path: string): Promise<FileDigests> {
  const hashes = { sha1: createHash("sha1"), sha256: createHash("sha256"), sha512: createHash("sha512") };
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    size += (chunk as Buffer).length;
    for (const h of Object.values(hashes)) h.update(chunk as Buffer);
  }
  return { size, sha1: hashes.sha1.digest("hex"), sha256: hashes.sha256.digest("hex"), sha512: hashes.sha512.digest("hex") };
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

/** name and version from `package/package.json` inside an npm tarball, or undefined. */
export async function npmTarballManifest(file: string): Promise<{ name: string; version: string } | undefined> {
  try {
    const entries = await unpackTar(new Blob([readFileSync(file)]).stream().pipeThrough(new DecompressionStream("gzip")), {
      filter: (header) => header.name === "package/package.json",
    });
    const manifest = entries[0]?.data ? JSON.parse(new TextDecoder().decode(entries[0].data)) : undefined;
    return typeof manifest?.name === "string" && typeof manifest?.version === "string" ? { name: manifest.name, version: manifest.version } : undefined;
  } catch {
    return undefined;
  }
}

/** Resolves what to publish: a directory (npm pack), an npm tarball, or any file with --name/--version. */
export async function resolveArtifact(path: string, name?: string, version?: string): Promise<{ file: string; name: string; version: string }> {
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
    return packed;
  }
  const manifest = await npmTarballManifest(path);
  if (manifest) {
    if ((name && name !== manifest.name) || (version && version !== manifest.version)) {
      throw usageError(`${path} is an npm tarball of ${manifest.name}@${manifest.version}, not ${name ?? manifest.name}@${version ?? manifest.version}`);
    }
    return { file: path, ...manifest };
  }
  if (!name || !version) throw usageError(`${path} is not an npm tarball: pass --name and --version`);
  return { file: path, name, version };
}
