/**
 * The npm front door with the real npm client: everything but an unsigned publish works with
 * nothing more than an .npmrc, and the refused publish tells the user what to run instead.
 */

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enrolPublisher, publishDir, writePackage, type PublisherSetup } from "../helpers/actors.js";
import { npm } from "../helpers/npm.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

let registry: TestRegistry;
let work: string;
let project: string;
let publisher: PublisherSetup;

beforeAll(async () => {
  registry = await startRegistry({ name: "npm-front-door" });
  work = mkdtempSync(join(tmpdir(), "countersign-npm-"));
  publisher = await enrolPublisher(registry, "@acme", join(work, "key.json"));
  await publishDir(registry, publisher, writePackage(join(work, "tool-1.0.0"), "@acme/tool", "1.0.0", "one", { keywords: ["acme", "tool"] }));
  await publishDir(registry, publisher, writePackage(join(work, "tool-1.1.0"), "@acme/tool", "1.1.0", "one point one"));
  project = join(work, "project");
  writePackage(project, "@acme/unsigned", "1.0.0", "never signed");
  const host = registry.url.replace(/^http:/, "");
  writeFileSync(join(project, ".npmrc"), `registry=${registry.url}/\n${host}/:_authToken=${publisher.token}\n`);
});

afterAll(async () => {
  await registry?.stop();
});

describe("npm against countersign", () => {
  it("npm publish (unsigned) is refused with the command to use instead, and stores nothing", async () => {
    const result = await npm(["publish"], project);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("403");
    expect(result.stderr).toContain(`countersign publish <package-dir> --registry ${registry.url}`);
    expect(result.stderr).not.toContain("npx countersign");
    expect((await npm(["view", "@acme/unsigned"], project)).code).not.toBe(0);
  });

  it("npm view reads the packument, dist-tags and our provenance field", async () => {
    const view = await npm(["view", "@acme/tool", "--json"], project);
    expect(view.code, view.stderr).toBe(0);
    const doc = JSON.parse(view.stdout) as { version: string; versions: string[]; "dist-tags": Record<string, string>; dist: { tarball: string; countersign: { mediaType: string } } };
    expect(doc.version).toBe("1.1.0");
    expect(doc.versions).toEqual(["1.0.0", "1.1.0"]);
    expect(doc.dist.tarball).toBe(`${registry.url}/@acme/tool/-/tool-1.1.0.tgz`);
    expect(doc.dist.countersign.mediaType).toBe("application/vnd.countersign.bundle.v1+json");
  });

  it("npm dist-tag add, ls and rm", async () => {
    expect((await npm(["dist-tag", "add", "@acme/tool@1.0.0", "stable"], project)).code).toBe(0);
    expect((await npm(["dist-tag", "ls", "@acme/tool"], project)).stdout).toContain("stable: 1.0.0");
    expect((await npm(["dist-tag", "rm", "@acme/tool", "stable"], project)).code).toBe(0);
    expect((await npm(["dist-tag", "ls", "@acme/tool"], project)).stdout).not.toContain("stable");
  });

  it("npm deprecate marks a version, and installs warn about it", async () => {
    const deprecate = await npm(["deprecate", "@acme/tool@1.0.0", "please use 1.1.0"], project);
    expect(deprecate.code, deprecate.stderr).toBe(0);
    expect((await npm(["view", "@acme/tool@1.0.0", "deprecated"], project)).stdout).toContain("please use 1.1.0");
    const consumer = join(work, "consumer");
    writePackage(consumer, "consumer", "1.0.0", "c", { dependencies: { "@acme/tool": "1.0.0" } });
    writeFileSync(join(consumer, ".npmrc"), `registry=${registry.url}/\n`);
    const install = await npm(["install"], consumer);
    expect(install.code, install.stderr).toBe(0);
    expect(install.stderr).toContain("deprecated @acme/tool@1.0.0: please use 1.1.0");
  });

  it("npm whoami, ping and search", async () => {
    const whoami = await npm(["whoami"], project);
    expect(whoami.code, whoami.stderr).toBe(0);
    expect(whoami.stdout.trim()).toMatch(/^publish token for @acme \(tok_[A-Za-z0-9_-]+\)$/);
    expect((await npm(["ping"], project)).code).toBe(0);
    const search = await npm(["search", "tool", "--json"], project);
    expect(search.code, search.stderr).toBe(0);
    expect(JSON.parse(search.stdout)).toEqual([expect.objectContaining({ name: "@acme/tool", version: "1.1.0" })]);
  });

  it("npm unpublish is refused: versions are immutable", async () => {
    const result = await npm(["unpublish", "@acme/tool@1.0.0"], project);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("immutable");
    expect((await npm(["view", "@acme/tool@1.0.0", "version"], project)).stdout.trim()).toBe("1.0.0");
  });

  it("an unknown package is a 404, never fetched from elsewhere", async () => {
    const result = await npm(["view", "left-pad"], project);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("404");
  });
});
