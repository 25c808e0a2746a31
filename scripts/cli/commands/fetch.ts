/**
 * @module
 * `fetch`: download an artifact and its provenance bundle and verify them against a pinned
 * fingerprint; the file is written only if every layer passes. `verify-artifact` does the same
 * offline for bytes and a bundle already on disk.
 */

import { randomBytes } from "node:crypto";
import { createWriteStream, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describeFailure, verifyBundle, type Verified, type VerifyFailure } from "../../../src/core/index.js";
import { emit, JSON_OPTION, parseSpec, REGISTRY_OPTION, required, str, wrongArguments, type Command, type Values } from "../command.js";
import { CliError, EXIT, usageError } from "../errors.js";
import { artifactHasher, hashFile, type FileDigests } from "../files.js";
import { encodeName, limitOf, registryBase, request, requestJson, TRANSFER_TIMEOUT_MS } from "../http.js";

const FINGERPRINT_HINT = "the registry fingerprint you pinned (see `countersign identity`)";

function report(values: Values, result: { ok: true; value: Verified } | { ok: false; error: VerifyFailure }, where: string): number {
  if (!result.ok) throw new CliError(describeFailure(result.error), EXIT.rejected, { verified: false, failure: result.error });
  const v = result.value;
  emit(
    values,
    [
      `verified ${v.name}@${v.version} → ${where}`,
      `  integrity  sha512 matches the digest signed by publisher and registry (${v.size} bytes)`,
      `  publisher  ${v.publisher.keyid}, enrolled in ${v.namespace}`,
      `  registry   ${v.registry.keyid} (${v.registry.origin}), pinned; sequence ${v.sequence}, ${v.publishedAt}`,
    ],
    { verified: true, path: where, ...v },
  );
  return 0;
}

/** Streams a URL to a file while hashing it natively. */
export async function download(url: string, path: string): Promise<FileDigests> {
  const response = await request(url, { timeoutMs: TRANSFER_TIMEOUT_MS });
  const hasher = artifactHasher();
  const limit = limitOf("tarball");
  const body = Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>);
  body.on("data", (chunk: Buffer) => {
    hasher.update(chunk);
    if (hasher.size() > limit) body.destroy(new CliError(`${new URL(url).host} sent more than ${limit} bytes for ${url}: refused`));
  });
  await pipeline(body, createWriteStream(path, { mode: 0o644 }));
  return hasher.digests();
}

export const fetchArtifact: Command = {
  name: "fetch",
  summary: "download name@version with its provenance and verify it against a pinned fingerprint",
  usage: "countersign fetch <name@version> --registry URL --fingerprint SHA256:... [--out FILE] [--bundle-out FILE] [--json]",
  options: { ...REGISTRY_OPTION, fingerprint: { type: "string" }, out: { type: "string", short: "o" }, "bundle-out": { type: "string" }, ...JSON_OPTION },
  async run(values, positionals) {
    if (positionals.length !== 1) throw wrongArguments(this, "one <name@version>", positionals);
    const { name, version } = parseSpec(positionals[0]);
    const registry = registryBase(str(values, "registry") ?? process.env.COUNTERSIGN_REGISTRY);
    const pinned = required(values, "fingerprint", FINGERPRINT_HINT);
    const base = `${registry}/-/countersign/v1/packages/${encodeName(name)}/${encodeURIComponent(version)}`;
    const bundle = await requestJson<unknown>(base);
    const out = str(values, "out") ?? `${name.replace(/^@[^/]+\//, "")}-${version}`;
    const partial = `${out}.partial-${randomBytes(4).toString("hex")}`;
    try {
      const digests = await download(`${base}/artifact`, partial);
      const result = await verifyBundle({ name, version, artifact: digests, bundle, pinned: [pinned] });
      if (result.ok) {
        renameSync(partial, out);
        const bundleOut = str(values, "bundle-out");
        if (bundleOut) writeFileSync(bundleOut, `${JSON.stringify(bundle, null, 2)}\n`);
      }
      return report(values, result, out);
    } finally {
      rmSync(partial, { force: true });
    }
  },
};

export const verifyArtifact: Command = {
  name: "verify-artifact",
  summary: "verify a downloaded artifact and its bundle offline, against a pinned fingerprint",
  usage: "countersign verify-artifact <name@version> --file FILE --bundle BUNDLE.json --fingerprint SHA256:... [--json]",
  options: { file: { type: "string" }, bundle: { type: "string" }, fingerprint: { type: "string" }, ...JSON_OPTION },
  async run(values, positionals) {
    if (positionals.length !== 1) throw wrongArguments(this, "one <name@version>", positionals);
    const { name, version } = parseSpec(positionals[0]);
    const file = required(values, "file");
    const bundlePath = required(values, "bundle");
    const pinned = required(values, "fingerprint", FINGERPRINT_HINT);
    let bundle: unknown;
    try {
      bundle = JSON.parse(readFileSync(bundlePath, "utf8"));
    } catch {
      throw usageError(`${bundlePath} is not a readable JSON bundle`);
    }
    const digests = await hashFile(file).catch(() => {
      throw usageError(`cannot read ${file}`);
    });
    return report(values, await verifyBundle({ name, version, artifact: digests, bundle, pinned: [pinned] }), file);
  },
};
