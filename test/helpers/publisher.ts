/**
 * @module
 * Builds publish uploads in tests (any runtime): a signed publisher statement plus the bytes,
 * in the upload format of core/upload.ts, with hooks to break any part of it.
 */

import { packTar } from "modern-tar";
import {
  ARTIFACT_MEMBER,
  artifactDigests,
  createSigner,
  fileEntries,
  readPackage,
  toHex,
  generateKeyPair,
  signPublishStatement,
  STATEMENT_MEMBER,
  toBase64,
  utf8,
  type Attributes,
  type Envelope,
  type KeyPair,
  type FileEntry,
  type Signer,
} from "../../src/core/index.js";

export interface Publisher {
  key: KeyPair;
  signer: Signer;
  publicKey: string;
}

export async function newPublisher(): Promise<Publisher> {
  const key = await generateKeyPair();
  return { key, signer: await createSigner(key), publicKey: toBase64(key.publicKey) };
}

export interface UploadParts {
  envelope: Envelope;
  bytes: Uint8Array;
}

export async function signedParts(publisher: Publisher, name: string, version: string, bytes: Uint8Array, overrides: { size?: number; digestsOf?: Uint8Array; attributes?: Attributes } = {}): Promise<UploadParts> {
  const digests = await artifactDigests(overrides.digestsOf ?? bytes);
  const envelope = await signPublishStatement({ name, version, digests, size: overrides.size ?? bytes.length, publisher: publisher.signer, ...(overrides.attributes ? { attributes: overrides.attributes } : {}) });
  return { envelope, bytes };
}

/** The upload body; `members` replaces the two standard members when a test needs odd archives. */
export async function uploadBody(parts: UploadParts, members?: { name: string; data: Uint8Array; type?: "file" | "symlink" }[]): Promise<Uint8Array> {
  const entries = members ?? [
    { name: STATEMENT_MEMBER, data: utf8(JSON.stringify(parts.envelope)) },
    { name: ARTIFACT_MEMBER, data: parts.bytes },
  ];
  return packTar(entries.map((m) => ({ header: { name: m.name, size: m.type === "symlink" ? 0 : m.data.length, type: m.type ?? "file", mtime: new Date(0), ...(m.type === "symlink" ? { linkname: "x" } : {}) }, body: m.type === "symlink" ? undefined : m.data })));
}

export const encodeName = (name: string) => encodeURIComponent(name).replace(/^%40/, "@");

/** Per-file digests of an npm tarball, read with the same core function the registry uses. */
export async function fileDigests(tarball: Uint8Array): Promise<FileEntry[]> {
  const hash = async (stream: ReadableStream<Uint8Array>) => toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", await new Response(stream).arrayBuffer())));
  const result = await readPackage(new Blob([tarball as Uint8Array<ArrayBuffer>]).stream(), hash);
  if ("notPackage" in result || !result.ok) throw new Error("not an npm package");
  return fileEntries(result.value.files);
}
