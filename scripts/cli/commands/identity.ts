/** @module `identity`: fetch and check a registry's identity document, print its fingerprint. */

import {
  checkIdentityNpmKeys,
  ED25519_TYPE,
  formatVerifierKey,
  fromBase64,
  logOrigin,
  logUrl,
  openIdentity,
  openIdentityFollowing,
  shortFingerprint,
  WELL_KNOWN_PATH,
  type IdentityDocument,
  type KeyChain,
  type OpenedIdentity,
} from "../../../src/core/index.js";
import { emit, JSON_OPTION, str, wrongArguments, type Command } from "../command.js";
import { CliError, EXIT } from "../errors.js";
import { registryBase, requestJson } from "../http.js";

/**
 * Fetches and verifies the identity document; with `pinned`, its key must be one of them or a
 * key a logged rotation it lists chains them to (PROTOCOL §21), and `chain` says which.
 */
export async function fetchIdentity(registry: string, pinned?: readonly string[]): Promise<OpenedIdentity & { chain?: KeyChain }> {
  const document = await requestJson<unknown>(`${registry}${WELL_KNOWN_PATH}`);
  const opened = pinned ? await openIdentityFollowing(document, { fingerprints: pinned }) : await openIdentity(document);
  if (!opened.ok) throw new CliError(`${registry}: ${opened.error}`, EXIT.rejected);
  return opened.value;
}

export const identity: Command = {
  name: "identity",
  summary: "show a registry's identity document and fingerprint (checked against --fingerprint if given)",
  usage: "countersign identity <registry-url> [--fingerprint SHA256:...] [--json]",
  options: { fingerprint: { type: "string" }, ...JSON_OPTION },
  async run(values, positionals) {
    if (positionals.length !== 1) throw wrongArguments(this, "one registry <url>", positionals);
    const registry = registryBase(positionals[0]);
    const pinned = str(values, "fingerprint");
    const { document, keyid, chain } = await fetchIdentity(registry, pinned ? [pinned] : undefined);
    const followed = pinned && keyid !== pinned ? (chain?.rotations ?? []).map((r) => `${r.from.keyid} → ${r.to.keyid} at log index ${r.sequence}`).join(", ") : "";
    await checkLogKey(document, keyid);
    const npmProblem = await checkIdentityNpmKeys(document);
    if (npmProblem) throw new CliError(`${registry}: identity document: ${npmProblem}`, EXIT.rejected);
    emit(
      values,
      [
        `registry:    ${document.name} (${document.origin})`,
        `fingerprint: ${keyid}`,
        `             short form for reading aloud: ${shortFingerprint(keyid)}`,
        `namespaces:  ${document.namespaces.join(", ") || "(none yet)"}`,
        ...(document.log ? [`log:         ${document.log.url}`, `log key:     ${document.log.key}   (for a witness's WITNESS_LOGS)`] : ["log:         (none: this registry predates the transparency log)"]),
        ...(document.npmKeys?.length
          ? document.npmKeys.map((k, i) => `${i ? "            " : "npm key:    "} ${k.keyid} (${k.keytype}; npm audit signatures checks ${registry}/-/npm/v1/keys against it)`)
          : ["npm key:     (none: this registry serves no npm registry signatures)"]),
        ...(document.keys.filter((k) => k.status === "retired").map((k) => `retired:     ${k.keyid} (rotated away at log index ${k.until}; valid for what it countersigned before)`)),
        pinned ? (followed ? `follows from the fingerprint you gave by the registry's logged key rotation: ${followed}` : "matches the fingerprint you gave") : "not checked against a pin: compare the fingerprint with one obtained out of band",
      ],
      { ...document, fingerprint: keyid, pinned: pinned !== undefined },
    );
    return 0;
  },
};

/** The log a signed identity document names must be this registry's, under its signing key: anything else is refused. */
async function checkLogKey(document: IdentityDocument, keyid: string): Promise<void> {
  if (!document.log) return;
  const publicKey = fromBase64(document.keys.find((k) => k.keyid === keyid)?.publicKey ?? "");
  const expected = publicKey && { url: logUrl(document.origin), origin: logOrigin(document.origin), key: await formatVerifierKey(logOrigin(document.origin), ED25519_TYPE, publicKey) };
  const { url, origin, key } = document.log;
  if (!expected || url !== expected.url || origin !== expected.origin || key !== expected.key) {
    throw new CliError(`identity document names a log that is not this registry's under key ${keyid}: expected ${expected ? expected.key : "a key it lists"}, got ${key.slice(0, 200)}`, EXIT.rejected);
  }
}
