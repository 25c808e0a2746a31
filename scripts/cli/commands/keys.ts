/** @module `keygen` (publisher keys) and `registry-keygen` (a production registry signing key). */

import { generateKeyPair, sshPublicKeyLine, toBase64 } from "../../../src/core/index.js";
import { emit, JSON_OPTION, str, type Command } from "../command.js";
import { defaultKeyPath, writeKeyFile } from "../keyfile.js";

export const keygen: Command = {
  name: "keygen",
  summary: "create a publisher key pair (private key file written 0600)",
  usage: "countersign keygen [--out FILE] [--force] [--json]",
  options: { out: { type: "string", short: "o" }, force: { type: "boolean" }, ...JSON_OPTION },
  async run(values) {
    const path = str(values, "out") ?? defaultKeyPath();
    const pair = await generateKeyPair();
    writeKeyFile(path, pair, values.force === true);
    const publicKey = toBase64(pair.publicKey);
    emit(
      values,
      [
        `publisher key written to ${path} (mode 600; keep it secret, back it up)`,
        `keyid:      ${pair.keyid}`,
        `public key: ${publicKey}`,
        `ssh form:   ${sshPublicKeyLine(pair.publicKey)}`,
        "",
        "Ask the registry admin to enrol it:",
        `  countersign admin key add <namespace> --public-key ${publicKey}`,
      ],
      { path, keyid: pair.keyid, publicKey },
    );
    return 0;
  },
};

export const registryKeygen: Command = {
  name: "registry-keygen",
  summary: "create a registry signing key; prints only the secret (pipe it to `wrangler secret put`)",
  usage: "countersign registry-keygen | npx wrangler secret put REGISTRY_SIGNING_KEY",
  options: {},
  async run() {
    const pair = await generateKeyPair();
    process.stderr.write(`registry fingerprint: ${pair.keyid}\n(publish it to your consumers out of band; the secret went to stdout)\n`);
    process.stdout.write(`${toBase64(pair.seed)}\n`);
    return 0;
  },
};
