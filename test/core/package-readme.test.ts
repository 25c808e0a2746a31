/** The README the package inspector keeps for the packument (core/package.ts; docs/PROTOCOL.md §11). */

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MAX_README_BYTES, MAX_README_FILE_BYTES, readmeRank, readmeText, readPackage, type PackageContents } from "../../src/core/index.js";
import { gzipTar, npmTarball } from "../helpers/tarball.js";

const hash = async (stream: ReadableStream<Uint8Array>) => createHash("sha256").update(new Uint8Array(await new Response(stream).arrayBuffer())).digest("hex");

async function read(bytes: Uint8Array): Promise<PackageContents> {
  const result = await readPackage(new Blob([bytes as Uint8Array<ArrayBuffer>]).stream(), hash);
  if ("notPackage" in result || !result.ok) throw new Error(`not read: ${JSON.stringify(result)}`);
  return result.value;
}

describe("readmeRank", () => {
  it.each([
    ["README.md", 0],
    ["readme.markdown", 0],
    ["Readme.MD", 0],
    ["README", 1],
    ["README.txt", 1],
    ["readme.rst", 1],
    ["docs/README.md", -1],
    ["README.md.bak.old", -1],
    ["READMEFIRST.md", -1],
    ["index.js", -1],
  ])("%s → %i", (path, rank) => expect(readmeRank(path)).toBe(rank));
});

describe("readmeText", () => {
  it("keeps short text whole and cuts long text at a character boundary within 64 KiB", () => {
    expect(readmeText(new TextEncoder().encode("# hi ✓"))).toBe("# hi ✓");
    const long = new TextEncoder().encode(`a${"€".repeat(MAX_README_BYTES)}`); // 1 + 3 bytes each: the cut falls inside one
    const text = readmeText(long);
    expect(new TextEncoder().encode(text).length).toBeLessThanOrEqual(MAX_README_BYTES);
    expect(text).toBe(`a${"€".repeat((MAX_README_BYTES - 1 - ((MAX_README_BYTES - 1) % 3)) / 3)}`);
    expect(text).not.toContain("\uFFFD");
  });
});

describe("readPackage's README", () => {
  it("prefers a Markdown README at the root, and hashes it like any file", async () => {
    const contents = await read(await npmTarball({ name: "x", version: "1.0.0" }, { "README": "plain", "README.md": "# markdown", "docs/README.md": "nested", "index.js": "1" }));
    expect(contents.readme).toEqual({ path: "README.md", text: "# markdown" });
    expect(contents.files.find((f) => f.path === "README.md")?.sha256).toBe(createHash("sha256").update("# markdown").digest("hex"));
    expect(contents.files.map((f) => f.path)).toEqual(["README", "README.md", "docs/README.md", "index.js", "package.json"]);
  });

  it("has none without a README, or when it is larger than 1 MiB (the file is still listed and hashed)", async () => {
    expect((await read(await npmTarball({ name: "x", version: "1.0.0" }))).readme).toBeUndefined();
    const big = "x".repeat(MAX_README_FILE_BYTES + 1);
    const contents = await read(await npmTarball({ name: "x", version: "1.0.0" }, { "README.md": big }));
    expect(contents.readme).toBeUndefined();
    expect(contents.files.find((f) => f.path === "README.md")).toEqual({ path: "README.md", size: big.length, sha256: createHash("sha256").update(big).digest("hex") });
  });

  it("ignores a README that is a link", async () => {
    const bytes = await gzipTar([
      { name: "package/package.json", data: JSON.stringify({ name: "x", version: "1.0.0" }) },
      { name: "package/doc.md", data: "# doc" },
      { name: "package/README.md", type: "symlink", linkname: "doc.md" },
    ]);
    expect((await read(bytes)).readme).toBeUndefined();
  });
});
