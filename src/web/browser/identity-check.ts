/**
 * @module
 * The first link: the registry's identity document, opened against the fingerprint in use. It
 * is the only place the page learns the keys the later links need beyond the fingerprint itself
 * (the log's note key, the npm signing keys), all vouched for by the registry key's signature.
 */

import { fromBase64 } from "../../core/bytes.js";
import { openIdentityFollowing, type IdentityDocument } from "../../core/identity.js";
import type { KeyChain } from "../../core/rotation.js";
import { fail, ok, type Result } from "../../core/result.js";
import { link, type LinkOutcome } from "./outcome.js";

export interface TrustedIdentity {
  document: IdentityDocument;
  keyid: string;
  /** The registry's Ed25519 key that signs now (the fingerprint in use, or the key its logged rotations lead to). */
  publicKey: Uint8Array;
  /** The registry's keys by log index (PROTOCOL §21): the fingerprint in use and its rotations. */
  chain: KeyChain;
}

/** Opens the fetched document; the link to show and, when it verifies, the identity. */
export async function checkIdentity(fetched: Result<unknown>, fingerprint: string): Promise<{ outcome: LinkOutcome; identity: Result<TrustedIdentity> }> {
  if (!fetched.ok) return failed(fetched.error);
  const opened = await openIdentityFollowing(fetched.value, { fingerprints: [fingerprint] });
  if (!opened.ok) return failed(opened.error);
  const { document, keyid, chain } = opened.value;
  const publicKey = fromBase64(document.keys.find((k) => k.keyid === keyid)?.publicKey ?? "");
  if (!publicKey) return failed(`identity document: the key ${keyid} it lists is not base64`);
  const extras = [
    document.log ? `its transparency log ${document.log.origin}` : "no transparency log",
    document.npmKeys?.length ? `${document.npmKeys.length} npm signing key${document.npmKeys.length === 1 ? "" : "s"} (${document.npmKeys.map((k) => k.keyid).join(", ")})` : "no npm signing key",
  ];
  const rotated = keyid === fingerprint ? "the fingerprint in use" : `the key the registry's logged rotation${chain.rotations.length === 1 ? "" : "s"} from the fingerprint in use lead${chain.rotations.length === 1 ? "s" : ""} to (${chain.rotations.map((r) => `${r.from.keyid} → ${r.to.keyid} at #${r.sequence}`).join(", ")})`;
  const detail = `The identity document of "${document.name}" (origin ${document.origin}, issued ${document.issuedAt}) is signed by ${keyid}, ${rotated}. It names ${extras.join(" and ")}, which the checks below rely on.`;
  return { outcome: link("identity", "verified", detail), identity: ok({ document, keyid, publicKey, chain }) };
}

function failed(reason: string) {
  return { outcome: link("identity", "failed", reason), identity: fail(reason) };
}
