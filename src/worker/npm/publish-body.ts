/**
 * @module
 * Checking the body of npm's publish request (`PUT /<name>` with `_attachments`), as libnpmpublish
 * builds it: one version, one base64 tarball whose length and digests must agree with the
 * metadata. Nothing in it is trusted: a body that disagrees with itself is a precise 400.
 */

import { checkVersion, fromBase64, isPlainObject, toBase64, toHex } from "../../core/index.js";
import { badRequest } from "../errors.js";

export interface NpmPublishBody {
  version: string;
  tarball: Uint8Array;
}

export async function checkNpmPublishBody(name: string, body: Record<string, unknown>): Promise<NpmPublishBody> {
  if (body.name !== name || (body._id !== undefined && body._id !== name)) throw badRequest("name_mismatch", `the body publishes "${String(body.name).slice(0, 100)}", but the URL is ${name}`);
  const versions = body.versions;
  if (!isPlainObject(versions) || Object.keys(versions).length !== 1) throw badRequest("invalid_body", "publish exactly one version per request (versions must have one entry)");
  const [version, manifest] = Object.entries(versions)[0]!;
  const check = checkVersion(version);
  if (!check.ok) throw badRequest("invalid_version", check.reason);
  if (!isPlainObject(manifest) || manifest.version !== version || manifest.name !== name) {
    throw badRequest("version_mismatch", `versions["${version.slice(0, 64)}"] must describe ${name}@${version.slice(0, 64)}`);
  }

  const attachments = body._attachments;
  if (!isPlainObject(attachments)) throw badRequest("invalid_body", "_attachments must be an object");
  const expected = `${name}-${version}.tgz`;
  const tarballs = Object.keys(attachments).filter((key) => key.endsWith(".tgz"));
  if (tarballs.length !== 1 || tarballs[0] !== expected) throw badRequest("attachment_mismatch", `expected exactly one tarball attachment named "${expected}"`);
  const attachment = attachments[expected];
  if (!isPlainObject(attachment) || typeof attachment.data !== "string" || typeof attachment.length !== "number") {
    throw badRequest("invalid_body", `_attachments["${expected}"] needs data (base64) and length`);
  }
  const tarball = fromBase64(attachment.data);
  if (!tarball) throw badRequest("bad_base64", `_attachments["${expected}"].data is not valid base64`);
  if (tarball.length !== attachment.length) throw badRequest("length_mismatch", `the tarball is ${tarball.length} bytes, but its length says ${attachment.length}`);

  const dist = isPlainObject(manifest.dist) ? manifest.dist : {};
  const [sha512, sha1] = await Promise.all([crypto.subtle.digest("SHA-512", tarball), crypto.subtle.digest("SHA-1", tarball)]);
  if (dist.integrity !== undefined && dist.integrity !== `sha512-${toBase64(new Uint8Array(sha512))}`) {
    throw badRequest("integrity_mismatch", "dist.integrity does not match the attached tarball", { layer: "integrity" });
  }
  if (dist.shasum !== undefined && dist.shasum !== toHex(new Uint8Array(sha1))) throw badRequest("integrity_mismatch", "dist.shasum does not match the attached tarball", { layer: "integrity" });
  return { version, tarball };
}
