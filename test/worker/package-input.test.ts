/**
 * Package input at publish: what a signed artifact may contain before it is countersigned, and
 * that a stored version can never take its packument offline. Each case was a reproduced bug
 * (a 201 for something npm would misread, or a 500); each is now a precise 400 and nothing is
 * published.
 */
import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { utf8 } from "../../src/core/index.js";
import { d1MetaStore } from "../../src/worker/storage/d1.js";
import { newPublisher, signedParts, type Publisher } from "../helpers/publisher.js";
import { gzip, gzipTar, npmTarball, paxRecords, rawTar, type RawTarEntry } from "../helpers/tarball.js";
import { call, enrol, errorOf, packagePath, publishParts } from "./helpers.js";

let publisher: Publisher;
let token: string;

beforeAll(async () => {
  publisher = await newPublisher();
  token = await enrol("@in", publisher);
});

const publish = async (name: string, version: string, bytes: Uint8Array) => publishParts(name, version, await signedParts(publisher, name, version, bytes), token);
const manifestOf = (name: string, version = "1.0.0") => JSON.stringify({ name, version });

/** Publishing `bytes` is a 400 with `code` (and a message containing `says`), and nothing is published. */
async function refused(name: string, bytes: Uint8Array, code: string, says?: string) {
  const error = await errorOf(await publish(name, "1.0.0", bytes));
  expect(error).toMatchObject({ status: 400, code });
  if (says) expect(error.message).toContain(says);
  expect((await call("GET", packagePath(name, "1.0.0"))).status).toBe(404);
  return error;
}

describe("package.json depth, size and types", () => {
  const deep = (depth: number) => `{"name":"@in/deep","version":"1.0.0","x":${"[".repeat(depth)}${"]".repeat(depth)}}`;

  it("refuses a package.json nested deeper than 64 levels (once: 201, then the packument 500ed) → 400", async () => {
    expect((await publish("@in/deep", "0.9.0", await npmTarball({ name: "@in/deep", version: "0.9.0" }))).status).toBe(201);
    for (const depth of [64, 100_000]) {
      const bytes = await gzipTar([{ name: "package/package.json", data: deep(depth) }]);
      await refused("@in/deep", bytes, "malformed_package", "deeper than 64 levels");
    }
    expect((await call("GET", "/@in%2fdeep")).status).toBe(200);
  });

  it("accepts 63 levels of arrays inside the top object (64 in all)", async () => {
    const bytes = await gzipTar([{ name: "package/package.json", data: deep(63).replace('"@in/deep"', '"@in/deep63"') }]);
    expect((await publish("@in/deep63", "1.0.0", bytes)).status).toBe(201);
  });

  it("brackets inside strings do not count as nesting", async () => {
    const bytes = await gzipTar([{ name: "package/package.json", data: JSON.stringify({ name: "@in/brackets", version: "1.0.0", description: "[".repeat(200) + '\\"{' }) }]);
    expect((await publish("@in/brackets", "1.0.0", bytes)).status).toBe(201);
  });

  it("refuses a package.json over 1 MiB, naming the limit", async () => {
    const bytes = await gzipTar([{ name: "package/package.json", data: JSON.stringify({ name: "@in/big", version: "1.0.0", pad: "x".repeat(1024 * 1024) }) }]);
    await refused("@in/big", bytes, "malformed_package", "1048576 bytes");
  });

  it.each([
    ["a name that is an object", { name: { toString: 1, valueOf: 1 }, version: "1.0.0" }, '"name" is not a string'],
    ["a name that is missing", { version: "1.0.0" }, '"name" is not a string'],
    ["a version that is an object", { name: "@in/types", version: { toString: 1, valueOf: 1 } }, '"version" is not a string'],
    ["a version that is a number", { name: "@in/types", version: 1 }, '"version" is not a string'],
  ])("refuses %s (was a 500) → 400", async (_label, manifest, says) => {
    await refused("@in/types", await gzipTar([{ name: "package/package.json", data: JSON.stringify(manifest) }]), "malformed_package", says);
  });

  it("a stored version whose manifest cannot be served does not take the packument offline (was a 500)", async () => {
    // As stored before publish bounded depth: a row written straight to the store.
    expect((await publish("@in/stored", "1.0.0", await npmTarball({ name: "@in/stored", version: "1.0.0" }))).status).toBe(201);
    const meta = d1MetaStore(env.DB);
    const good = (await meta.listVersions("@in/stored")).versions[0]!;
    const hugeDepth = `{"x":${"[".repeat(200_000)}${"]".repeat(200_000)}}`;
    for (const [version, manifest] of [["2.0.0", hugeDepth], ["2.0.1", "null"], ["2.0.2", "not json"]] as const) {
      expect(await meta.commitVersion({ ...good, version, sequence: good.sequence + 1000 + Number(version.at(-1)), manifest }, { tag: "latest", from: null })).toBe("committed");
    }
    for (const accept of ["application/json", "application/vnd.npm.install-v1+json"]) {
      const res = await call("GET", "/@in%2fstored", { headers: { accept } });
      expect(res.status).toBe(200);
      const doc = (await res.json()) as { versions: Record<string, unknown>; "dist-tags": Record<string, string> };
      expect(Object.keys(doc.versions)).toEqual(["1.0.0"]);
      expect(doc["dist-tags"].latest).toBe("1.0.0");
    }
    expect((await call("GET", "/@in%2fstored/1.0.0")).status).toBe(200);
    expect((await call("GET", "/@in%2fstored/2.0.0")).status).toBe(404);
  });
});

describe("tar entry types", () => {
  const pkg = (name: string): RawTarEntry => ({ name: "package/package.json", type: "0", data: manifestOf(name) });

  it.each([
    ["3", "character device"],
    ["4", "block device"],
    ["6", "FIFO"],
    ["7", "contiguous file"],
    ["g", "pax global header"],
    ["L", "GNU long name"],
    ["V", 'type "V"'],
  ])("refuses an entry of type %s (%s) → 400", async (type, kind) => {
    const bytes = await gzip(rawTar([pkg("@in/kinds"), { name: "package/odd", type, data: type === "g" || type === "L" ? "package/index.js" : "" }, { name: "package/index.js", type: "0", data: "x" }]));
    await refused("@in/kinds", bytes, "malformed_package", kind);
  });

  it("accepts regular files (0 and NUL), directories and links written raw", async () => {
    const bytes = await gzip(rawTar([
      { name: "package/", type: "5" },
      pkg("@in/raw"),
      { name: "package/old.js", type: "\0", data: "old" },
      { name: "package/lib/", type: "5" },
      { name: "package/lib/a.js", type: "0", data: "a" },
      { name: "package/b.js", type: "2", linkname: "lib/a.js" },
      { name: "package/c.js", type: "1", linkname: "package/lib/a.js" },
    ]));
    expect((await publish("@in/raw", "1.0.0", bytes)).status).toBe(201);
  });

  it("reads pax extended headers as pax: a long path is honoured and signed per file", async () => {
    const long = `package/${"d".repeat(120)}/index.js`;
    // As npm pack (node-tar) writes them: path, mtime and size (equal to the header's), UTF-8 names.
    const bytes = await gzip(rawTar([pkg("@in/pax"), { name: "././@PaxHeader", type: "x", data: paxRecords({ path: `${long}/ünïcödé.js`.replace("/index.js/", "/"), mtime: "499162500", size: "1" }) }, { name: "package/short", type: "0", data: "x" }]));
    expect((await publish("@in/pax", "1.0.0", bytes)).status).toBe(201);
  });

  it.each([
    ["a pax size that differs from the header's", paxRecords({ size: "2" }), "pax size that differs"],
    ["a pax size that is not plain decimal", paxRecords({ size: "1abc" }), "pax size that differs"],
    ["an unknown pax key", paxRecords({ "GNU.sparse.map": "0,1" }), "GNU.sparse.map"],
    ["a malformed pax record", utf8("99 path=package/x\n"), "malformed record"],
  ])("refuses %s → 400", async (_label, body, says) => {
    const bytes = await gzip(rawTar([pkg("@in/paxbad"), { name: "././@PaxHeader", type: "x", data: body }, { name: "package/x", type: "0", data: "x" }]));
    await refused("@in/paxbad", bytes, "malformed_package", says);
  });

  it("refuses two pax headers in a row (node-tar merges them, modern-tar keeps the last) → 400", async () => {
    const bytes = await gzip(rawTar([
      pkg("@in/pax2"),
      { name: "././@PaxHeader", type: "x", data: paxRecords({ path: "package/hidden.js" }) },
      { name: "././@PaxHeader", type: "x", data: paxRecords({ mtime: "0" }) },
      { name: "package/shown.js", type: "0", data: "x" },
    ]));
    await refused("@in/pax2", bytes, "malformed_package", "two pax extended headers");
  });

  it.each([
    ["a directory", { name: "package/dir/", type: "5" }],
    ["a symbolic link", { name: "package/l", type: "2", linkname: "package.json" }],
    ["a file named with a trailing slash", { name: "package/f/", type: "0" }],
  ])("refuses %s with a non-zero size (node-tar reads a body there, modern-tar does not) → 400", async (_label, entry) => {
    const hidden = rawTar([{ name: "package/evil.js", type: "0", data: "evil" }]).subarray(0, 1024);
    const bytes = await gzip(rawTar([pkg("@in/sized"), { ...entry, data: hidden }]));
    await refused("@in/sized", bytes, "malformed_package", "non-zero size");
  });

  it("refuses a ustar prefix under a non-POSIX magic → 400", async () => {
    const bytes = await gzip(rawTar([pkg("@in/prefix"), { name: "index.js", prefix: "package", type: "0", data: "x", magic: "ustar\u0000  " }]));
    await refused("@in/prefix", bytes, "malformed_package", "prefix");
  });
});

describe("gzip framing", () => {
  it("refuses a truncated gzip stream (was a 500) → 400", async () => {
    const whole = await npmTarball({ name: "@in/cut", version: "1.0.0" }, { "index.js": "x".repeat(5000) });
    for (const keep of [whole.length - 4, Math.floor(whole.length / 2), 12]) {
      await refused("@in/cut", whole.slice(0, keep), "malformed_package", "gzip stream");
    }
  });

  it("refuses bytes after the gzip stream (was accepted) → 400", async () => {
    const whole = await npmTarball({ name: "@in/tail", version: "1.0.0" });
    await refused("@in/tail", new Uint8Array([...whole, 0x41, 0x42, 0x43]), "malformed_package", "gzip stream");
    await refused("@in/tail", new Uint8Array([...whole, ...(await npmTarball({ name: "@in/tail", version: "1.0.0" }, { "evil.js": "x" }))]), "malformed_package", "gzip stream");
  });
});

describe("which artifacts are npm packages", () => {
  it("refuses a whole gzip stream of a truncated tar (once stored as opaque) → 400", async () => {
    const tar = rawTar([{ name: "package/package.json", type: "0", data: manifestOf("@in/cuttar") + " ".repeat(2000) }]);
    for (const keep of [512, 700, 1536]) await refused("@in/cuttar", await gzip(tar.subarray(0, keep)), "malformed_package", "truncated or corrupt");
  });

  it("refuses a gzip tar whose top directory is not package/ (npm would extract it) → 400", async () => {
    for (const top of ["pkg", "node_modules", "a"]) {
      const bytes = await gzipTar([{ name: `${top}/package.json`, data: manifestOf("@in/top") }, { name: `${top}/index.js`, data: "x" }]);
      await refused("@in/top", bytes, "malformed_package", "outside package/");
    }
    await refused("@in/top", await gzip(rawTar([])), "malformed_package", "package.json is missing");
  });

  it("keeps opaque artifacts that are not gzip tars: plain bytes, a gzip of text", async () => {
    expect((await publish("@in/opaque", "1.0.0", utf8("just some bytes"))).status).toBe(201);
    expect((await publish("@in/opaque", "1.0.1", await gzip(utf8("a gzipped text file, not a tar archive\n".repeat(40))))).status).toBe(201);
    expect((await publish("@in/opaque", "1.0.2", new Uint8Array(0))).status).toBe(201);
    expect((await call("GET", "/@in%2fopaque")).status).toBe(404);
  });
});
