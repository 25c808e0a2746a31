/**
 * The client as users get it: `npm run release` packs a self-contained tarball (no dependencies),
 * which installs into an empty project or globally with no registry at all (`--offline`, an empty
 * cache, a registry URL nobody answers on), and runs: the bin, `--version`, a command that loads
 * the split chunks, and the runtime hook through the package's `countersign/hook` export.
 * `--name @acme/countersign` repacks the same client under a team's own name.
 */

import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv } from "../helpers/cli.js";
import { ROOT } from "../helpers/paths.js";

interface Released {
  name: string;
  version: string;
  path: string;
  integrity: string;
  size: number;
  files: string[];
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
const work = mkdtempSync(join(tmpdir(), "countersign-dist-"));
// No registry: an empty npm cache, --offline, and a registry URL on a port nobody listens on.
const npmEnv = cleanEnv({ npm_config_cache: join(work, "npm-cache"), npm_config_registry: "http://127.0.0.1:9/", npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" });

function run(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = npmEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd, env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 99) : 0, stdout, stderr });
    });
  });
}

async function release(...args: string[]): Promise<Released> {
  const out = await run(process.execPath, [join(ROOT, "scripts", "release.mjs"), "--no-build", "--out", join(work, "release"), "--json", ...args], ROOT);
  expect(out.code, out.stderr).toBe(0);
  return JSON.parse(out.stdout) as Released;
}

function emptyProject(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ name, version: "1.0.0", private: true })}\n`);
  return dir;
}

const npmInstall = (cwd: string, ...args: string[]) => run("npm", ["install", "--offline", "--ignore-scripts", "--no-audit", "--no-fund", ...args], cwd);

let plain: Released;
let renamed: Released;

beforeAll(async () => {
  plain = await release();
  renamed = await release("--name", "@acme/countersign");
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("npm run release", () => {
  it("packs release/countersign-<version>.tgz with its integrity and size", () => {
    expect(plain.name).toBe("countersign");
    expect(plain.path).toBe(join(work, "release", `countersign-${version}.tgz`));
    expect(existsSync(plain.path)).toBe(true);
    expect(plain.integrity).toMatch(/^sha512-[A-Za-z0-9+/]{86}==$/);
    expect(plain.size).toBeGreaterThan(10_000);
  });

  it("ships exactly the client: the bin and its chunks, the hook, the integrations, the docs", () => {
    const files = plain.files;
    for (const needed of ["package.json", "README.md", "dist/countersign.mjs", "dist/hook.mjs", "dist/hook-loader.mjs", "dist/bun-scanner.mjs", "dist/pnpmfile.cjs", "docs/PROTOCOL.md", "docs/THREAT-MODEL.md"]) {
      expect(files, needed).toContain(needed);
    }
    expect(files.some((f) => f.startsWith("dist/chunks/"))).toBe(true);
    const unexpected = files.filter((f) => !/^(package\.json|README\.md|docs\/.+|dist\/(countersign\.mjs|hook\.mjs|hook-loader\.mjs|bun-scanner\.mjs|pnpmfile\.cjs|chunks\/[\w-]+\.mjs))$/.test(f));
    expect(unexpected).toEqual([]); // no worker.mjs, start.mjs, benchmarks, sources or tests
  });

  it("refuses a --name that is not a valid package name", async () => {
    const out = await run(process.execPath, [join(ROOT, "scripts", "release.mjs"), "--no-build", "--out", join(work, "release"), "--name", "@Acme/Countersign"], ROOT);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("not a valid package name");
  });
});

describe("installed from the tarball, with no registry", () => {
  let project: string;

  beforeAll(async () => {
    project = emptyProject("app");
    const out = await npmInstall(project, "-D", plain.path);
    expect(out.code, out.stderr).toBe(0);
  });

  it("adds one package and nothing else: no runtime dependencies", () => {
    const installed = readdirSync(join(project, "node_modules")).filter((e) => !e.startsWith("."));
    expect(installed).toEqual(["countersign"]);
    const lock = JSON.parse(readFileSync(join(project, "package-lock.json"), "utf8")) as { packages: Record<string, unknown> };
    expect(Object.keys(lock.packages).sort()).toEqual(["", "node_modules/countersign"]);
    const manifest = JSON.parse(readFileSync(join(project, "node_modules", "countersign", "package.json"), "utf8")) as Record<string, unknown>;
    expect(manifest.dependencies).toBeUndefined();
    expect(manifest.scripts).toBeUndefined(); // nothing runs at install time, with or without --ignore-scripts
  });

  it("node_modules/.bin/countersign --version prints the version", async () => {
    const out = await run(join(project, "node_modules", ".bin", "countersign"), ["--version"], project);
    expect(out).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: "" });
    const json = await run(join(project, "node_modules", ".bin", "countersign"), ["--version", "--json"], project);
    expect(JSON.parse(json.stdout)).toEqual({ version });
  });

  it("runs a command that loads the lazily split chunks (verify)", async () => {
    writeFileSync(join(project, "countersign.json"), `${JSON.stringify({ version: 1, registries: {}, namespaces: { "*": "allow" } })}\n`);
    const out = await run(join(project, "node_modules", ".bin", "countersign"), ["verify", "--no-receipt", "--json"], project);
    expect(out.stderr).not.toMatch(/internal error|Cannot find module|ERR_MODULE_NOT_FOUND/);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ ok: true, summary: { total: 1 } });
  });

  it("node --import countersign/hook: with no countersign.json anywhere up, nothing is pinned and the program runs", async () => {
    const bare = emptyProject("bare");
    mkdirSync(join(bare, "node_modules"));
    // the installed package, linked in as a user's bundler or monorepo might (the hook resolves from here)
    symlinkSync(join(project, "node_modules", "countersign"), join(bare, "node_modules", "countersign"), "dir");
    mkdirSync(join(bare, "node_modules", "left-pad"));
    writeFileSync(join(bare, "node_modules", "left-pad", "package.json"), '{"name":"left-pad","version":"1.0.0"}');
    writeFileSync(join(bare, "node_modules", "left-pad", "index.js"), "module.exports = 'padded';");
    const out = await run(process.execPath, ["--import", "countersign/hook", "-e", "console.log(require('left-pad'))"], bare);
    expect(out).toMatchObject({ code: 0, stdout: "padded\n" });
  });

  it("node --import countersign/hook is enforcing: an unreadable countersign.json locks node_modules down", async () => {
    mkdirSync(join(project, "node_modules", "left-pad"));
    writeFileSync(join(project, "node_modules", "left-pad", "package.json"), '{"name":"left-pad","version":"1.0.0"}');
    writeFileSync(join(project, "node_modules", "left-pad", "index.js"), "module.exports = 'padded';");
    writeFileSync(join(project, "countersign.json"), "{ not json");
    const ran = await run(process.execPath, ["--import", "countersign/hook", "-e", "console.log('no module loaded')"], project);
    expect(ran).toMatchObject({ code: 0, stdout: "no module loaded\n" });
    const refused = await run(process.execPath, ["--import", "countersign/hook", "-e", "require('left-pad')"], project);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe("");
    expect(refused.stderr).toContain("left-pad");
    expect(refused.stderr).not.toMatch(/^\s+at /m);
  });

  it("npm install -g --prefix gives a working countersign on the PATH", async () => {
    const prefix = join(work, "global");
    const out = await npmInstall(work, "-g", "--prefix", prefix, plain.path);
    expect(out.code, out.stderr).toBe(0);
    const bin = join(prefix, "bin", "countersign");
    expect((await run(bin, ["--version"], work)).stdout).toBe(`${version}\n`);
    expect(readdirSync(join(prefix, "lib", "node_modules")).filter((e) => !e.startsWith("."))).toEqual(["countersign"]);
    const help = await run(bin, ["--help"], work);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("--timeout SECONDS");
  });
});

describe("--name @acme/countersign: the same client under a team's name", () => {
  it("is the same files under another package name", () => {
    expect(renamed.name).toBe("@acme/countersign");
    expect(renamed.path).toBe(join(work, "release", `acme-countersign-${version}.tgz`));
    expect(renamed.files).toEqual(plain.files);
  });

  it("installs and runs: the bin is still countersign, the hook is @acme/countersign/hook", async () => {
    const project = emptyProject("acme-app");
    const out = await npmInstall(project, "-D", renamed.path);
    expect(out.code, out.stderr).toBe(0);
    expect(readdirSync(join(project, "node_modules")).filter((e) => !e.startsWith("."))).toEqual(["@acme"]);
    expect(readdirSync(join(project, "node_modules", "@acme"))).toEqual(["countersign"]);
    expect((await run(join(project, "node_modules", ".bin", "countersign"), ["--version"], project)).stdout).toBe(`${version}\n`);
    const hook = await run(process.execPath, ["--import", "@acme/countersign/hook", "-e", "console.log('hooked')"], project);
    expect(hook).toMatchObject({ code: 0, stdout: "hooked\n" });
    for (const entry of ["@acme/countersign/bun-scanner", "@acme/countersign/pnpmfile"]) {
      const resolved = await run(process.execPath, ["-e", `console.log(require.resolve(${JSON.stringify(entry)}))`], project);
      expect(resolved.code, `${entry}: ${resolved.stderr}`).toBe(0);
    }
  });
});
