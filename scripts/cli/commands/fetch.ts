/**
 * @module
 * `fetch`: download an artifact and its provenance bundle and verify them against a pinned
 * fingerprint, then find the countersignature in the registry's transparency log (its
 * tlog-proof, or a proof from the log's tiles) with the log consistent with the checkpoint this
 * machine stored last, and the version listed in the package's signed metadata (unexpired, not
 * older than what this machine accepted: verification/metadata.ts); the file is written only if
 * every layer passes. `verify-artifact` does the
 * same offline for bytes and a bundle already on disk: of the log, only the bundle's tlog-proof
 * (if it has one) and, against a stored checkpoint of the same size, equal roots.
 */

import { randomBytes } from "node:crypto";
import { createWriteStream, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { dirname, resolve } from "node:path";
import { countersignRefusal, currentKeys, describeFailure, followRotations, namespaceOf, resolvePin, rootOf, verifyBundle, type KeyChain, type Verified, type VerifyFailure } from "../../../src/core/index.js";
import { emit, JSON_OPTION, parseSpec, REGISTRY_OPTION, required, str, wrongArguments, type Command, type Values } from "../command.js";
import { CliError, EXIT, usageError } from "../errors.js";
import { artifactHasher, hashFile, type FileDigests } from "../files.js";
import { encodeName, limitOf, registryBase, request, requestJson, TRANSFER_TIMEOUT_MS } from "../http.js";
import { checkBundleOffline, checkBundleOnline } from "../log/check.js";
import { describeCheckpoint } from "../log/reader.js";
import { loadPins } from "../pins-file.js";
import { RegistryClient } from "../registry-client.js";
import { checkOneVersion, type MetadataReport } from "../verification/metadata.js";
import { identityChain } from "../verification/registry-keys.js";

const FINGERPRINT_HINT = "the registry fingerprint you pinned (see `countersign identity`)";

/** What the log check found, for the report: one line and the JSON `log` field. */
interface LogLine {
  line: string;
  json: Record<string, unknown>;
}

function rejected(result: { ok: false; error: VerifyFailure }): never {
  throw new CliError(describeFailure(result.error), EXIT.rejected, { verified: false, failure: result.error });
}

function report(values: Values, result: { ok: true; value: Verified } | { ok: false; error: VerifyFailure }, where: string, log: LogLine, metadata?: MetadataReport): number {
  if (!result.ok) rejected(result);
  const v = result.value;
  emit(
    values,
    [
      `verified ${v.name}@${v.version} → ${where}`,
      `  integrity  sha512 matches the digest signed by publisher and registry (${v.size} bytes)`,
      `  publisher  ${v.publisher.keyid}, enrolled in ${v.namespace}`,
      `  registry   ${v.registry.keyid} (${v.registry.origin}), pinned; sequence ${v.sequence}, ${v.publishedAt}`,
      `  log        ${log.line}`,
      ...(metadata ? [`  metadata   listed in its signed metadata (serial ${metadata.serial}, expires ${metadata.expires}${metadata.logIndex ? `, log entry ${metadata.logIndex}` : ""})`] : []),
    ],
    { verified: true, path: where, ...v, log: log.json, ...(metadata ? { metadata } : {}) },
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

/**
 * The key chain from the pinned fingerprint and the registry's keys, from its identity document.
 * Without one that opens under the pin there is no rotation to follow: the bundle is checked
 * against the pinned key alone, which names the layer that fails.
 */
async function registryKeys(registry: string, pinned: string): Promise<{ chain: KeyChain; keys: { publicKey: Uint8Array; until?: number | undefined }[] }> {
  const listed = await identityChain([pinned], [registry]);
  if (listed) return listed;
  const alone = followRotations({ fingerprints: [pinned] }, []);
  if (!alone.ok) throw new CliError(alone.error, EXIT.usage);
  return { chain: alone.value, keys: [] };
}

const isDirectory = (path: string) => statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;

export const fetchArtifact: Command = {
  name: "fetch",
  summary: "download name@version with its provenance and verify it against a pinned fingerprint",
  usage:
    "countersign fetch <name@version> --registry URL --fingerprint SHA256:... [--out FILE] [--bundle-out FILE] [--json]\n" +
    "  the countersignature must be in the registry's transparency log, consistent with the checkpoint stored last\n" +
    "  (config directory, checkpoints/; COUNTERSIGN_LOG_STATE_DIR), and listed in the package's signed metadata\n" +
    "  (unexpired, not older than what this machine accepted); exit 3 when the registry or its log is unreachable",
  options: { ...REGISTRY_OPTION, fingerprint: { type: "string" }, out: { type: "string", short: "o" }, "bundle-out": { type: "string" }, ...JSON_OPTION },
  async run(values, positionals) {
    if (positionals.length !== 1) throw wrongArguments(this, "one <name@version>", positionals);
    const { name, version } = parseSpec(positionals[0]);
    const registry = registryBase(str(values, "registry") ?? process.env.COUNTERSIGN_REGISTRY);
    const pinned = required(values, "fingerprint", FINGERPRINT_HINT);
    const base = `${registry}/-/countersign/v1/packages/${encodeName(name)}/${encodeURIComponent(version)}`;
    const bundle = await requestJson<unknown>(base);
    const out = str(values, "out") ?? `${name.replace(/^@[^/]+\//, "")}-${version}`;
    const bundleOut = str(values, "bundle-out");
    // Before anything is downloaded: a file that could not be written is a precise error, not an
    // internal one after the download.
    for (const [option, file] of [["--out", out], ["--bundle-out", bundleOut]] as const) {
      if (file !== undefined && !isDirectory(dirname(resolve(file)))) throw new CliError(`${option} ${file}: there is no directory ${dirname(resolve(file))} to write it in`, EXIT.unavailable);
    }
    const partial = `${out}.partial-${randomBytes(4).toString("hex")}`;
    try {
      const digests = await download(`${base}/artifact`, partial);
      // The registry's keys from the pinned one: its identity document lists the rotations that
      // chain to it (PROTOCOL §21); without a document, the pinned key alone.
      const { chain, keys } = await registryKeys(registry, pinned);
      const result = await verifyBundle({ name, version, artifact: digests, bundle, pinned: [...chain.keys.keys()] });
      if (!result.ok) rejected(result);
      const refusal = countersignRefusal(chain, result.value.registry.keyid, result.value.sequence);
      if (refusal) rejected({ ok: false, error: { layer: "binding", code: "registry_key_retired", message: refusal, name, version, namespace: result.value.namespace } });
      const history = rootOf(chain, result.value.registry.keyid);
      // The registry's signed metadata must list this version with these bytes (exit 1 before anything is written).
      const v = result.value;
      const listed = await checkOneVersion(await new RegistryClient(registry).packageMetadata(name), { name, version, namespace: v.namespace, sha512: v.digests.sha512, sequence: v.sequence, keyid: history, signers: currentKeys(chain), publisherKeyid: v.publisher.keyid, from: registry });
      if (!listed.ok) throw new CliError(describeFailure(listed.failure), EXIT.rejected, { verified: false, failure: listed.failure });
      // The transparency log, for the countersignature and the metadata's record: throws (exit 1, or 3 when the log cannot be read) before anything is written.
      const logged = await checkBundleOnline(registry, bundle, result.value, { otherKeys: keys, history, also: listed.record });
      listed.accept();
      renameSync(partial, out);
      if (bundleOut) writeFileSync(bundleOut, `${JSON.stringify(bundle, null, 2)}\n`);
      return report(values, result, out, {
        line: `entry ${logged.index} of the registry's transparency log (${logged.via === "tlog-proof" ? "its tlog-proof" : "proved from the log's tiles"}, ${describeCheckpoint(logged.checkpoint)}), consistent with the checkpoint stored last`,
        json: { checked: true, index: logged.index, via: logged.via, checkpoint: { origin: logged.checkpoint.origin, size: logged.checkpoint.size } },
      }, listed.report);
    } finally {
      rmSync(partial, { force: true });
    }
  },
};

export const verifyArtifact: Command = {
  name: "verify-artifact",
  summary: "verify a downloaded artifact and its bundle offline, against a pinned fingerprint",
  usage:
    "countersign verify-artifact <name@version> --file FILE --bundle BUNDLE.json (--fingerprint SHA256:... | --pins countersign.json) [--json]\n" +
    "  --pins: the registry pinned for the package's namespace, with the keys it rotated away (`retired`, each valid\n" +
    "  only below its log index), as verify uses them\n" +
    "  offline: of the transparency log, checks the bundle's tlog-proof (if it has one) under the registry key, and\n" +
    "  against a checkpoint this machine stored of the same size; consistency with other sizes needs `fetch` or `verify`",
  options: { file: { type: "string" }, bundle: { type: "string" }, fingerprint: { type: "string" }, pins: { type: "string" }, ...JSON_OPTION },
  async run(values, positionals) {
    if (positionals.length !== 1) throw wrongArguments(this, "one <name@version>", positionals);
    const { name, version } = parseSpec(positionals[0]);
    const file = required(values, "file");
    const bundlePath = required(values, "bundle");
    const chain = pinnedChain(values, name);
    let bundle: unknown;
    try {
      bundle = JSON.parse(readFileSync(bundlePath, "utf8"));
    } catch {
      throw usageError(`${bundlePath} is not a readable JSON bundle`);
    }
    const digests = await hashFile(file).catch(() => {
      throw usageError(`cannot read ${file}`);
    });
    const result = await verifyBundle({ name, version, artifact: digests, bundle, pinned: [...chain.keys.keys()] });
    if (!result.ok) rejected(result);
    const refusal = countersignRefusal(chain, result.value.registry.keyid, result.value.sequence);
    if (refusal) rejected({ ok: false, error: { layer: "binding", code: "registry_key_retired", message: refusal, name, version, namespace: result.value.namespace } });
    // Offline: the bundle's tlog-proof only (throws, exit 1, if it fails); consistency needs the network.
    const logged = await checkBundleOffline(bundle, result.value);
    return report(
      values,
      result,
      file,
      logged.checked
        ? {
            line: `entry ${logged.index} of ${describeCheckpoint(logged.checkpoint)} by its tlog-proof, checked offline under the registry key${logged.stored === "same tree" ? "; the same tree as the checkpoint stored on this machine" : ""} (consistency with other checkpoints needs the network: countersign fetch or verify)`,
            json: { checked: true, offline: true, index: logged.index, via: "tlog-proof", checkpoint: { origin: logged.checkpoint.origin, size: logged.checkpoint.size }, stored: logged.stored },
          }
        : { line: `not checked: ${logged.reason} (offline; countersign fetch checks the log online)`, json: { checked: false, offline: true, reason: logged.reason } },
    );
  },
};

/**
 * The registry keys verify-artifact trusts, offline: `--fingerprint` (that key alone), or the
 * pins file's registry for the package's namespace, its retired keys bounded by their log indexes
 * (PROTOCOL §21; rotations are not fetched here, so only what the pins already record counts).
 */
function pinnedChain(values: Values, name: string): KeyChain {
  const fingerprint = str(values, "fingerprint");
  const pinsPath = str(values, "pins");
  if (fingerprint !== undefined && pinsPath !== undefined) throw usageError("give --fingerprint or --pins, not both");
  if (pinsPath === undefined) {
    const pinned = required(values, "fingerprint", FINGERPRINT_HINT);
    return { keys: new Map([[pinned, { keyid: pinned }]]), rotations: [], root: pinned };
  }
  const namespace = namespaceOf(name);
  const { rule } = resolvePin(loadPins(resolve(pinsPath)), namespace);
  if (rule.kind !== "registry") throw usageError(`${namespace} is not pinned to a registry in ${pinsPath} (it is "${rule.kind}"): nothing to verify it against`);
  const chain = followRotations({ fingerprints: rule.fingerprints, retired: rule.retired }, []);
  if (!chain.ok) throw usageError(`${pinsPath}: ${chain.error}`);
  return chain.value;
}
