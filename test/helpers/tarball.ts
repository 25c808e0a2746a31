/** npm package tarballs built in any runtime (gzip + ustar), including malformed ones for tests. */

import { packTar } from "modern-tar";
import { utf8 } from "../../src/core/index.js";

export interface TarMember {
  name: string;
  data?: string | Uint8Array;
  type?: "file" | "directory" | "symlink" | "link";
  linkname?: string;
}

export async function gzipTar(members: TarMember[]): Promise<Uint8Array> {
  const tar = await packTar(
    members.map((m) => {
      const data = typeof m.data === "string" ? utf8(m.data) : (m.data ?? new Uint8Array(0));
      const type = m.type ?? "file";
      return {
        header: { name: m.name, size: type === "file" ? data.length : 0, type, mtime: new Date(0), ...(m.linkname ? { linkname: m.linkname } : {}) },
        body: type === "file" ? data : undefined,
      };
    }),
  );
  const gzipped = new Blob([tar as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
  return new Uint8Array(await new Response(gzipped).arrayBuffer());
}

/** A well-formed npm tarball: package/package.json plus the given files. */
export function npmTarball(manifest: Record<string, unknown>, files: Record<string, string> = { "index.js": "module.exports = 1;\n" }): Promise<Uint8Array> {
  return gzipTar([{ name: "package/package.json", data: JSON.stringify(manifest) }, ...Object.entries(files).map(([path, data]) => ({ name: `package/${path}`, data }))]);
}

/** Gzip of any bytes. */
export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const gzipped = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
  return new Uint8Array(await new Response(gzipped).arrayBuffer());
}

/** One raw tar entry, written block by block, so tests can use any type flag, size or field. */
export interface RawTarEntry {
  name: string;
  /** the type flag character, e.g. "0", "3", "7", "x", "g" */
  type: string;
  data?: string | Uint8Array;
  /** the size field, if it should differ from the data's length */
  size?: number;
  linkname?: string;
  prefix?: string;
  /** bytes 257..265 (magic and version); POSIX "ustar\0" "00" by default */
  magic?: string;
}

/** A pax extended header body from key/value records, with correct record lengths. */
export function paxRecords(records: Record<string, string>): Uint8Array {
  const encoder = new TextEncoder();
  let text = "";
  for (const [key, value] of Object.entries(records)) {
    const rest = ` ${key}=${value}\n`;
    let length = encoder.encode(rest).length + 1;
    while (String(length).length + encoder.encode(rest).length !== length) length++;
    text += `${length}${rest}`;
  }
  return encoder.encode(text);
}

/** An uncompressed tar (with end blocks) of raw entries. */
export function rawTar(entries: RawTarEntry[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  const put = (block: Uint8Array, offset: number, text: string) => block.set(new TextEncoder().encode(text), offset);
  for (const e of entries) {
    const data = typeof e.data === "string" ? utf8(e.data) : (e.data ?? new Uint8Array(0));
    const header = new Uint8Array(512);
    put(header, 0, e.name);
    put(header, 100, "0000644\0");
    put(header, 108, "0000000\0");
    put(header, 116, "0000000\0");
    put(header, 124, `${(e.size ?? data.length).toString(8).padStart(11, "0")}\0`);
    put(header, 136, "00000000000\0");
    put(header, 148, "        ");
    put(header, 156, e.type);
    if (e.linkname) put(header, 157, e.linkname);
    put(header, 257, e.magic ?? "ustar\u000000");
    if (e.prefix) put(header, 345, e.prefix);
    const sum = header.reduce((a, b) => a + b, 0);
    put(header, 148, `${sum.toString(8).padStart(6, "0")}\0 `);
    blocks.push(header, data, new Uint8Array(-data.length & 511));
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
