/**
 * @module
 * The npm registry signature link: the version document's `dist.signatures[0]`, as
 * `npm audit signatures` checks it (core/npm-signatures.ts), by a key the verified identity
 * document lists in `npmKeys` (so the Ed25519 registry key vouches for the ECDSA key: no new
 * trust root), over a `dist.integrity` that is the sha512 of the bytes this browser downloaded.
 */

import { fromBase64 } from "../../core/bytes.js";
import { sriFromHex } from "../../core/digest.js";
import { isPlainObject } from "../../core/dsse.js";
import { npmKeyid, verifyNpmSignature } from "../../core/npm-signatures.js";
import type { Result } from "../../core/result.js";
import type { Artifact } from "./bundle-check.js";
import type { TrustedIdentity } from "./identity-check.js";
import { link, type LinkOutcome } from "./outcome.js";

export async function checkNpmSignature(
  input: { name: string; version: string },
  fetched: Result<unknown> | undefined,
  identity: Result<TrustedIdentity>,
  artifact: Result<Artifact>,
): Promise<LinkOutcome> {
  if (fetched === undefined) return link("npm-signature", "absent", "This version is not served through the npm front door, so it has no npm registry signature.");
  if (!identity.ok) return link("npm-signature", "failed", "not checked: the registry identity did not verify, so no npm signing key can be trusted");
  if (!fetched.ok) return link("npm-signature", "failed", fetched.error);
  const dist = isPlainObject(fetched.value) && isPlainObject(fetched.value.dist) ? fetched.value.dist : undefined;
  if (!dist) return link("npm-signature", "failed", "the npm version document has no dist object");
  const signatures = dist.signatures;
  const keys = identity.value.document.npmKeys ?? [];
  if (signatures === undefined || (Array.isArray(signatures) && signatures.length === 0)) {
    // A registry with an npm key signs every npm version it serves (lazily, on first read): none here means it was stripped.
    if (keys.length > 0) return link("npm-signature", "failed", `The npm version document carries no registry signature (dist.signatures), though the registry identity lists npm key ${keys[0]!.keyid}: removed on the way?`);
    return link("npm-signature", "absent", "The npm version document carries no registry signature (dist.signatures), and the registry identity lists no npm signing key.");
  }
  const first: unknown = Array.isArray(signatures) ? signatures[0] : undefined;
  if (!isPlainObject(first) || typeof first.keyid !== "string" || typeof first.sig !== "string") return link("npm-signature", "failed", "dist.signatures[0] is not {keyid, sig}");
  const signature = { keyid: first.keyid, sig: first.sig };
  if (keys.length === 0) return link("npm-signature", "absent", `dist.signatures[0] names key ${signature.keyid}, but the registry identity lists no npm signing key to check it with.`);
  const key = keys.find((k) => k.keyid === signature.keyid);
  if (!key) {
    return link("npm-signature", "failed", `signed by npm key ${signature.keyid}, which the registry identity does not list (expected one of ${keys.map((k) => k.keyid).join(", ")}, actual ${signature.keyid})`);
  }
  const spki = fromBase64(key.key);
  const keyid = spki && (await npmKeyid(spki).catch(() => undefined));
  if (keyid !== key.keyid) return link("npm-signature", "failed", `the identity document lists npm key ${key.keyid}, but that key's keyid is ${keyid ?? "(not a P-256 key)"}`);
  if (!artifact.ok) return link("npm-signature", "failed", `not checked: the signature covers dist.integrity, and ${artifact.error}`);
  const integrity = sriFromHex("sha512", artifact.value.digests.sha512);
  if (dist.integrity !== integrity) {
    return link("npm-signature", "failed", `dist.integrity is not the sha512 of the bytes downloaded (expected ${integrity}, actual ${typeof dist.integrity === "string" ? dist.integrity : "none"})`);
  }
  if (!(await verifyNpmSignature(key.key, signature, input.name, input.version, integrity))) {
    return link("npm-signature", "failed", `dist.signatures[0] does not verify under npm key ${key.keyid} over "${input.name}@${input.version}:${integrity}"`);
  }
  return link(
    "npm-signature",
    "verified",
    `dist.signatures[0] verifies under npm key ${key.keyid} (ECDSA P-256, listed in the registry identity) over "${input.name}@${input.version}:${integrity}", as npm audit signatures checks it.`,
  );
}
