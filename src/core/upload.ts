/**
 * @module
 * The publish upload format (docs/PROTOCOL.md §6), shared by the client that writes it and the
 * Worker that reads it: an uncompressed POSIX ustar archive with exactly two regular files,
 *
 *     publisher.dsse.json   the publisher's DSSE envelope (at most 1 MiB)
 *     artifact              the artifact bytes
 *
 * followed by the two zero blocks that end a tar archive.
 */

export const STATEMENT_MEMBER = "publisher.dsse.json";
export const ARTIFACT_MEMBER = "artifact";
export const MAX_STATEMENT_BYTES = 1024 * 1024;
export const UPLOAD_MEDIA_TYPE = "application/x-tar";

const BLOCK = 512;
const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

/** Exact byte length of an upload: one header block per member, padded bodies, two end blocks. */
export function uploadLength(statementBytes: number, artifactBytes: number): number {
  return BLOCK + padded(statementBytes) + BLOCK + padded(artifactBytes) + 2 * BLOCK;
}
