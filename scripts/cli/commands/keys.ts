/**
 * @module
 * `keygen` (publisher keys; with `--receipt`, receipt keys) and `registry-keygen` (a production
 * registry signing key; with `--npm`, the registry's npm signing key, NPM_SIGNING_KEY).
 * `keygen --receipt` prints the fingerprint a team commits under `receipts.signers` in
 * countersign.json; the private key stays in the config directory or a CI secret, never in the
 * project (docs/PROTOCOL.md §17).
 */

import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fromBase64, generateKeyPair, generateNpmSigningKey, npmKeySshLine, sshPublicKeyLine, toBase64 } from "../../../src/core/index.js";
import { emit, JSON_OPTION, str, type Command, type Values } from "../command.js";
import { defaultKeyPath, writeKeyFile } from "../keyfile.js";
import { RECEIPT_KEY_ENV, receiptKey, receiptKeyPath, refuseKeyInProject } from "../receipts.js";

export const keygen: Command = {
  name: "keygen",
  summary: "create a publisher key pair (private key file written 0600)",
  usage: "countersign keygen [--out FILE] [--force] [--json]\n       countersign keygen --receipt [--out FILE [--force]] [--json]   (the receipt key's fingerprint; --out: a new one for a CI secret)",
  options: { out: { type: "string", short: "o" }, force: { type: "boolean" }, receipt: { type: "boolean" }, ...JSON_OPTION },
  async run(values) {
    if (values.receipt) return receiptKeygen(values);
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
  usage:
    "countersign registry-keygen | wrangler secret put REGISTRY_SIGNING_KEY   (wrangler: node_modules/.bin/wrangler of your Worker's checkout)\n" +
    "       countersign registry-keygen --npm | wrangler secret put NPM_SIGNING_KEY   (ECDSA P-256, for npm audit signatures)\n" +
    "       countersign registry-keygen [--npm] --json   ({ keyid, secret }; --npm adds key, the public key)",
  options: { npm: { type: "boolean" }, ...JSON_OPTION },
  async run(values) {
    if (values.npm) {
      // base64 PKCS#8 DER of an ECDSA P-256 key, made by WebCrypto (docs: NPM_SIGNING_KEY).
      const npmKey = await generateNpmSigningKey();
      if (values.json) {
        process.stdout.write(`${JSON.stringify({ keyid: npmKey.keyid, key: npmKey.key, secret: npmKey.secret })}\n`);
        return 0;
      }
      process.stderr.write(
        `npm signing keyid: ${npmKey.keyid}\n` +
          `  ${npmKeySshLine(fromBase64(npmKey.key)!)}   (ssh-keygen -lf prints the same keyid)\n` +
          "(the registry serves it at /-/npm/v1/keys and lists it in its signed identity document; the secret went to stdout)\n",
      );
      process.stdout.write(`${npmKey.secret}\n`);
      return 0;
    }
    const pair = await generateKeyPair();
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ keyid: pair.keyid, secret: toBase64(pair.seed) })}\n`);
      return 0;
    }
    process.stderr.write(`registry fingerprint: ${pair.keyid}\n(publish it to your consumers out of band; the secret went to stdout)\n`);
    process.stdout.write(`${toBase64(pair.seed)}\n`);
    return 0;
  },
};

const signersLine = (keyid: string) => `  "receipts": { "signers": ["${keyid}"] }`;

/** The machine's receipt key (created on first use), or with --out a new one to hand to CI as a secret. */
async function receiptKeygen(values: Values): Promise<number> {
  const out = str(values, "out");
  if (out !== undefined) {
    const path = resolve(out);
    refuseKeyInProject(path);
    const pair = await generateKeyPair();
    writeKeyFile(path, pair, values.force === true);
    emit(
      values,
      [
        `receipt key written to ${path} (mode 600)`,
        `fingerprint: ${pair.keyid}`,
        "",
        `Store the file's content as the CI secret ${RECEIPT_KEY_ENV}, then delete the file.`,
        "Trust receipts it signs by adding its fingerprint to countersign.json:",
        signersLine(pair.keyid),
      ],
      { path, keyid: pair.keyid, publicKey: toBase64(pair.publicKey), created: true },
    );
    return 0;
  }
  const source = process.env[RECEIPT_KEY_ENV] ? RECEIPT_KEY_ENV : receiptKeyPath();
  const created = source !== RECEIPT_KEY_ENV && !existsSync(source);
  const pair = (await receiptKey(true))!;
  emit(
    values,
    [`receipt key: ${source}${created ? " (created)" : ""}`, `fingerprint: ${pair.keyid}`, "", "To accept receipts this key signs on other machines, add to countersign.json:", signersLine(pair.keyid)],
    { path: source, keyid: pair.keyid, publicKey: toBase64(pair.publicKey), created },
  );
  return 0;
}
