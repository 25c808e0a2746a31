/**
 * The README as a new user meets it. Every shell block marked `<!-- walkthrough:NAME -->` is run
 * as written, with `bash -e` on a fresh HOME, against real registries on 127.0.0.1, with only the
 * README's own placeholders filled in:
 *
 * - the Quick start, after its install step (`npm install -g` of the release tarball, here into a
 *   private prefix), in an empty directory: the URL, admin token and fingerprint `npm start`
 *   prints;
 * - "Use it in your project" (npm, pnpm, yarn berry, bun), each in an empty directory, with the
 *   variables its placeholder block tells the reader to export — REGISTRY, FINGERPRINT, CLIENT
 *   (the release tarball made from this checkout by `npm run release`). @acme/hello is already
 *   published there, as the Quick start leaves it. Each must exit 0, leave its own package
 *   manager's lockfile (and no other), get "ok" from `countersign verify`, and run the program
 *   under the runtime hook; for pnpm the hook must have run inside pnpm, and for bun the scanner
 *   must abort an install on a clone without countersign.json;
 * - the CI block of "Verify a project", in a clone of each finished project (its committed files:
 *   no node_modules, no receipt): as written for npm, and with the frozen install its comment
 *   names for pnpm, yarn and bun;
 * - "Serve the client from your own registry": the publisher's block in this checkout (the
 *   tarball it writes under release/ is removed again), then the project's block in a copy of
 *   the npm walkthrough's project.
 *
 * Nothing here needs the internet: the client tarball has no dependencies, and every package
 * manager's default registry is a closed port, so a fetch from a public registry fails the block.
 * README_WALKTHROUGH_LOG=DIR keeps every block's transcript (and its directories) for reading.
 */

import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enrolPublisher, publishDir, writePackage, type PublisherSetup } from "../helpers/actors.js";
import { clientTarball, README, runBlock, shellBlocks, toolsDir, walkthroughBlocks, type BlockRun } from "../helpers/readme.js";
import { ROOT } from "../helpers/paths.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

const markdown = readFileSync(README, "utf8");
const blocks = walkthroughBlocks(markdown);
const LOCKFILES = ["package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock", "bun.lock", "bun.lockb"];

let team: TestRegistry;
let fresh: TestRegistry;
let work: string;
let tools: string;
let client: string;
let globalBin: string;
let alice: PublisherSetup;
/** Each walkthrough's finished project, for its CI run. */
const projects = new Map<string, string>();
/** The directories the blocks ran in, removed at the end. */
const runs: string[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "countersign-readme-walkthrough-"));
  tools = toolsDir(work);
  client = clientTarball(join(work, "release"));
  // The Quick start's `npm install -g ./release/countersign-*.tgz`, into a prefix of our own.
  const prefix = join(work, "global");
  execFileSync("npm", ["install", "-g", "--prefix", prefix, "--offline", "--no-audit", "--no-fund", client], { stdio: ["ignore", "ignore", "pipe"], timeout: 120_000 });
  globalBin = join(prefix, "bin");

  [team, fresh] = await Promise.all([startRegistry({ name: "acme-team" }), startRegistry({ name: "acme-quickstart" })]);
  // What the Quick start leaves on the team's registry: @acme/hello@1.0.0, signed by an enrolled publisher.
  alice = await enrolPublisher(team, "@acme", join(work, "alice.json"));
  await publishDir(team, alice, writePackage(join(work, "hello"), "@acme/hello", "1.0.0", "hello from @acme"));
});

afterAll(async () => {
  await Promise.all([team?.stop(), fresh?.stop()]);
  if (!process.env.README_WALKTHROUGH_LOG) for (const dir of [work, ...runs]) if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The block's output, and the trace of the command that failed, for assertion messages. */
const transcript = (run: BlockRun) => `exit ${run.code}\n--- stdout\n${run.stdout}\n--- stderr (bash -x trace)\n${run.stderr}`;

/** README_WALKTHROUGH_LOG=DIR keeps every block's transcript there, passing or not. */
function keep(name: string, run: BlockRun): BlockRun {
  runs.push(run.root);
  const dir = process.env.README_WALKTHROUGH_LOG;
  if (dir) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${name}.log`), transcript(run));
  }
  return run;
}

describe("the README", () => {
  it("never tells anyone to run the client through a registry runner", () => {
    expect(markdown).not.toMatch(/npx\s+(--?[\w-]+\s+)*countersign/);
    expect(markdown).not.toMatch(/\b(npm exec|pnpm dlx|pnpx|yarn dlx|bunx|bun x)\s+(--?[\w-]+\s+)*countersign/);
    // …and no command block uses npx for anything but this checkout's own wrangler
    for (const block of shellBlocks(markdown)) expect(block).not.toMatch(/\bnpx\s+(?!wrangler\b)/);
  });

  it("has a walkthrough for every package manager, and says which values they need", () => {
    expect([...blocks.keys()]).toEqual(expect.arrayContaining(["placeholders", "quickstart", "own-registry", "own-registry-project", "npm", "pnpm", "yarn", "bun", "ci"]));
    for (const manager of ["pnpm", "yarn", "bun"]) expect(() => ciBlockFor(manager)).not.toThrow();
    const placeholders = blocks.get("placeholders")!;
    for (const name of ["REGISTRY", "FINGERPRINT", "CLIENT"]) expect(placeholders).toMatch(new RegExp(`^export ${name}=`, "m"));
  });
});

describe("Quick start", () => {
  it("runs as written against a fresh registry", async () => {
    // What `npm start` printed, as the block's comments say: the URL, the admin token, the full fingerprint.
    const printed: [string, string][] = [["http://127.0.0.1:8787", fresh.url], ["cs_admin_…", fresh.adminToken], ["SHA256:wYeP…", fresh.key.keyid]];
    let block = blocks.get("quickstart")!;
    for (const [placeholder, value] of printed) {
      expect(block).toContain(placeholder);
      block = block.replaceAll(placeholder, value);
    }
    const run = keep("quickstart", await runBlock(block, { vars: {}, tools: `${globalBin}:${tools}` }));
    expect(run.code, transcript(run)).toBe(0);
  });
});

const MANAGERS = [
  { block: "npm", lockfile: "package-lock.json" },
  { block: "pnpm", lockfile: "pnpm-lock.yaml" },
  { block: "yarn", lockfile: "yarn.lock" },
  { block: "bun", lockfile: "bun.lock" },
];

describe.each(MANAGERS)("Use it in your project: $block", ({ block: name, lockfile }) => {
  it("runs as written from an empty directory: verify says ok, the program runs under the hook", async () => {
    const run = keep(name, await runBlock(blocks.get(name)!, { vars: { REGISTRY: team.url, FINGERPRINT: team.key.keyid, CLIENT: client }, tools }));
    expect(run.code, transcript(run)).toBe(0);
    expect(run.stdout, transcript(run)).toMatch(/^ok\b/m);
    expect(run.stdout, transcript(run)).toContain("hello from @acme");
    // pnpm: the hook the README installs ran inside pnpm when `countersign add` had pnpm lock the version
    if (name === "pnpm") expect(run.stdout + run.stderr, transcript(run)).toMatch(/afterAllResolved.*countersign/);

    const project = join(run.dir, "my-app");
    const lockfiles = LOCKFILES.filter((f) => existsSync(join(project, f)));
    expect(lockfiles, `${name} project holds ${lockfiles.join(", ")}`).toEqual([lockfile]);
    expect(readFileSync(join(project, lockfile), "utf8")).toContain("@acme/hello");
    const manifest = JSON.parse(readFileSync(join(project, "package.json"), "utf8")) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    expect(manifest.dependencies?.["@acme/hello"]).toBe("1.0.0");
    expect(Object.keys(manifest.devDependencies ?? {})).toContain("countersign");
    expect(existsSync(join(project, "countersign.json"))).toBe(true);
    expect(existsSync(join(project, "countersign-receipt.json"))).toBe(true);
    projects.set(name, project);
  });

  it("a fresh clone installs in CI as the README says", async () => {
    const project = projects.get(name);
    if (!project) throw new Error("the walkthrough did not finish"); // fails, never skips: the walkthrough above must pass first
    const ci = ciBlockFor(name);
    // What a clone has: the committed files, not node_modules, caches or this machine's receipt.
    const run = keep(`${name}-ci`, await runBlock(ci, { vars: {}, tools, setup: (dir) => cpSync(project, dir, { recursive: true, filter: (src) => !/\/(node_modules|\.yarn|countersign-receipt\.json)$/.test(src) }) }));
    expect(run.code, transcript(run)).toBe(0);
    expect(run.stdout, transcript(run)).toMatch(/^ok\b/m);
    expect(existsSync(join(run.dir, "node_modules", "@acme", "hello", "index.js")), transcript(run)).toBe(true);
  });
});

/**
 * The README's CI block for one package manager: as written for npm; for the others its `npm ci`
 * line becomes the frozen install its own comment names for that manager.
 */
function ciBlockFor(manager: string): string {
  const block = blocks.get("ci")!;
  if (manager === "npm") return block;
  const line = block.split("\n").find((l) => /^npm ci\b/.test(l))!;
  const command = line.split("#")[1]?.split(/[:,]/).map((c) => c.trim()).find((c) => c.startsWith(`${manager} `));
  if (!command) throw new Error(`the README's CI block names no install command for ${manager}: ${line}`);
  return block.replace(line, command);
}

describe("Use it in your project: bun's scanner", () => {
  it("the scanner the README configures runs in a fresh clone: without countersign.json, bun install aborts", async () => {
    const project = projects.get("bun");
    if (!project) throw new Error("the walkthrough did not finish"); // fails, never skips: the walkthrough above must pass first
    const run = keep("bun-scanner-active", await runBlock("bun install --frozen-lockfile", { vars: {}, tools, setup: (dir) => cpSync(project, dir, { recursive: true, filter: (src) => !/\/(node_modules|countersign\.json|countersign-receipt\.json)$/.test(src) }) }));
    expect(run.code, transcript(run)).not.toBe(0);
    expect(run.stdout + run.stderr).toContain("countersign.json");
    expect(existsSync(join(run.dir, "node_modules", "@acme", "hello"))).toBe(false);
  });
});

describe("Install the client: served from the team's own registry", () => {
  it("the publisher releases it as @acme/countersign and publishes it; a project moves to it and verifies", async () => {
    const project = projects.get("npm");
    if (!project) throw new Error("the npm walkthrough did not finish"); // fails, never skips: the walkthrough above must pass first
    // The publisher, in this checkout, with the Quick start's environment (the key as CI passes it).
    const version = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;
    const released = join(ROOT, "release", `acme-countersign-${version}.tgz`);
    const existed = existsSync(released);
    const publisher = { COUNTERSIGN_REGISTRY: team.url, COUNTERSIGN_TOKEN: alice.token, COUNTERSIGN_KEY: readFileSync(alice.keyFile, "utf8") };
    let run: BlockRun;
    try {
      run = keep("own-registry", await runBlock(blocks.get("own-registry")!, { vars: publisher, tools: `${globalBin}:${tools}`, cwd: ROOT }));
    } finally {
      if (!existed) rmSync(released, { force: true });
    }
    expect(run.code, transcript(run)).toBe(0);

    // The project of the npm walkthrough, as it is on the developer's disk.
    const moved = keep("own-registry-project", await runBlock(blocks.get("own-registry-project")!, { vars: {}, tools, setup: (dir) => cpSync(project, dir, { recursive: true, verbatimSymlinks: true }) }));
    expect(moved.code, transcript(moved)).toBe(0);
    expect(moved.stdout, transcript(moved)).toMatch(/^ok\b/m);
    expect(moved.stdout, transcript(moved)).toMatch(/@acme → team: 2 verified/);
    const manifest = JSON.parse(readFileSync(join(moved.dir, "package.json"), "utf8")) as { devDependencies?: Record<string, string> };
    expect(Object.keys(manifest.devDependencies ?? {})).toEqual(["@acme/countersign"]);
  });
});
