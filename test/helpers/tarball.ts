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
