/** @module `identity`: fetch and check a registry's identity document, print its fingerprint. */

import { openIdentity, shortFingerprint, WELL_KNOWN_PATH, type OpenedIdentity } from "../../../src/core/index.js";
import { emit, JSON_OPTION, str, wrongArguments, type Command } from "../command.js";
import { CliError, EXIT } from "../errors.js";
import { registryBase, requestJson } from "../http.js";

/** Fetches and verifies the identity document; with `pinned`, its key must be one of them. */
export async function fetchIdentity(registry: string, pinned?: readonly string[]): Promise<OpenedIdentity> {
  const document = await requestJson<unknown>(`${registry}${WELL_KNOWN_PATH}`);
  const opened = await openIdentity(document, pinned);
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
    const { document, keyid } = await fetchIdentity(registry, pinned ? [pinned] : undefined);
    emit(
      values,
      [
        `registry:    ${document.name} (${document.origin})`,
        `fingerprint: ${keyid}`,
        `             short form for reading aloud: ${shortFingerprint(keyid)}`,
        `namespaces:  ${document.namespaces.join(", ") || "(none yet)"}`,
        pinned ? "matches the fingerprint you gave" : "not checked against a pin: compare the fingerprint with one obtained out of band",
      ],
      { ...document, fingerprint: keyid, pinned: pinned !== undefined },
    );
    return 0;
  },
};
