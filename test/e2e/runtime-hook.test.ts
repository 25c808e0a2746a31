/**
 * The runtime hook cannot be switched off from the outside (docs/PROTOCOL.md §17), end to end:
 * a real registry, a real publisher, a real `npm install` / `pnpm install`, `countersign verify`,
 * then `node --import <ROOT>/dist/hook.mjs <absolute path of app.js>` as separate processes.
 *
 * Each hole the hook used to have is shown here: starting node from another working directory,
 * a corrupted countersign.json, a package directory swapped for a symlink to code elsewhere, and
 * receipts that could only be used on the machine that made them. Every refusal is one line on
 * stderr and exit code 1.
 */

import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enrolPublisher, publishDir, writePackage, type PublisherSetup } from "../helpers/actors.js";
import { cleanEnv, runCli, runJson } from "../helpers/cli.js";
import { npm, pnpm, writeConsumer } from "../helpers/npm.js";
import { ROOT } from "../helpers/paths.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

const HOOK = join(ROOT, "dist", "hook.mjs");
const REFUSAL = /^countersign: refusing to load (\S+) of (\S+): (.+)$/;

let team: TestRegistry;
let work: string;
let alice: PublisherSetup;
/** This machine: its receipt key lives in its config directory. */
let machine: Record<string, string>;

const pins = (extra: Record<string, unknown> = {}) => ({
  version: 1,
  registries: { team: { url: team.url, fingerprints: [team.key.keyid] } },
  namespaces: { "@acme": "team", "@*": "reject", "*": "allow" },
  ...extra,
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `node --import dist/hook.mjs <app>` started in `cwd` ("/" unless said otherwise). */
function runApp(app: string, env: Record<string, string>, cwd = "/"): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", HOOK, app], { cwd, env: cleanEnv(env), timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 99) : 0, stdout, stderr });
    });
  });
}

/** The run was refused with exactly one line naming `file` of `pkg`; returns the reason. */
function expectRefusal(run: Run, file: string, pkg: RegExp | string): string {
  expect(run.code, run.stderr).toBe(1);
  expect(run.stdout).toBe("");
  const lines = run.stderr.split("\n").filter((l) => l !== "");
  expect(lines, run.stderr).toHaveLength(1);
  const match = REFUSAL.exec(lines[0]!);
  expect(match, lines[0]).not.toBeNull();
  expect(match![1]).toBe(file);
  if (typeof pkg === "string") expect(match![2]).toBe(pkg);
  else expect(match![2]).toMatch(pkg);
  return match![3]!;
}

async function verify(dir: string, env: Record<string, string>): Promise<void> {
  const result = await runCli(["verify", "--json"], { cwd: dir, env });
  expect(result.code, result.stdout + result.stderr).toBe(0);
  expect(existsSync(join(dir, "countersign-receipt.json"))).toBe(true);
}

/** A consumer of @acme/utils and left-pad, installed with npm (or pnpm), verified, with an app printing both. */
async function consumer(label: string, options: { manager?: "npm" | "pnpm"; pins?: unknown; env?: Record<string, string> } = {}): Promise<{ dir: string; app: string }> {
  const dir = writeConsumer(join(work, label), { registry: team.url, resolved: false, dependencies: { "@acme/utils": "1.0.0", "@acme/esm": "1.0.0", "left-pad": "1.0.0" }, pins: options.pins ?? pins() });
  const install = options.manager === "pnpm" ? await pnpm(["install"], dir) : await npm(["install"], dir);
  expect(install.code, install.stdout + install.stderr).toBe(0);
  const app = join(dir, "app.mjs");
  writeFileSync(app, 'import esm from "@acme/esm";\nimport { createRequire } from "node:module";\nconst require = createRequire(import.meta.url);\nconsole.log(require("@acme/utils"), esm, require("left-pad"));\n');
  await verify(dir, options.env ?? machine);
  return { dir: realpathSync(dir), app: join(realpathSync(dir), "app.mjs") };
}

/** Runs `body` with `path` holding `text`, then puts the original back. */
async function withFile(path: string, text: string, body: () => Promise<void>): Promise<void> {
  const original = readFileSync(path);
  writeFileSync(path, text);
  try {
    await body();
  } finally {
    writeFileSync(path, original);
  }
}

const UNTOUCHED = "utils 1.0.0 esm 1.0.0 left-pad 1.0.0";

beforeAll(async () => {
  team = await startRegistry({ name: "acme-team" });
  work = realpathSync(mkdtempSync(join(tmpdir(), "countersign-runtime-")));
  machine = { XDG_CONFIG_HOME: join(work, "machine-config"), COUNTERSIGN_RECEIPT_KEY: "", COUNTERSIGN_RECEIPT_KEY_FILE: "" };
  alice = await enrolPublisher(team, "@acme", join(work, "alice.json"));
  await publishDir(team, alice, writePackage(join(work, "pkgs", "utils"), "@acme/utils", "1.0.0", "utils 1.0.0"));
  const esm = writePackage(join(work, "pkgs", "esm"), "@acme/esm", "1.0.0", "esm 1.0.0", { type: "module" });
  writeFileSync(join(esm, "index.js"), 'export default "esm 1.0.0";\n');
  await publishDir(team, alice, esm);
  // An unscoped package the pins allow unverified, from the same registry.
  const mallory = await enrolPublisher(team, "left-pad", join(work, "mallory.json"));
  await publishDir(team, mallory, writePackage(join(work, "pkgs", "left-pad"), "left-pad", "1.0.0", "left-pad 1.0.0"));
});

afterAll(async () => {
  await team?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the project is found from the entry module, not the working directory", () => {
  let dir: string;
  let app: string;
  beforeAll(async () => ({ dir, app } = await consumer("consumer-cwd")));

  it("started from / with an absolute path to the app, an untouched install runs", async () => {
    const run = await runApp(app, machine);
    expect(run.stderr).toBe("");
    expect(run.stdout.trim()).toBe(UNTOUCHED);
  });

  it.each([
    ["a CommonJS file", "node_modules/@acme/utils/index.js", "@acme/utils@1.0.0"],
    ["an ES module", "node_modules/@acme/esm/index.js", "@acme/esm@1.0.0"],
  ])("started from /, a tampered %s is refused with one line and exit code 1", async (_label, file, pkg) => {
    await withFile(join(dir, file), "module.exports = 'tampered';\n", async () => {
      const reason = expectRefusal(await runApp(app, machine), "index.js", pkg);
      expect(reason).toMatch(/^its bytes differ from the signed digest \(expected sha256:[0-9a-f]{64}, actual sha256:[0-9a-f]{64}\)$/);
    });
  });

  it("started from an unrelated project's directory, the app's own project is still enforced", async () => {
    const elsewhere = join(work, "elsewhere");
    mkdirSync(elsewhere, { recursive: true });
    writeFileSync(join(elsewhere, "countersign.json"), JSON.stringify({ version: 1, registries: {}, namespaces: { "@*": "allow", "*": "allow" } }));
    await withFile(join(dir, "node_modules/@acme/utils/index.js"), "module.exports = 'tampered';\n", async () => {
      expectRefusal(await runApp(app, machine, elsewhere), "index.js", "@acme/utils@1.0.0");
    });
  });
});

describe("a malformed or unreadable countersign.json does not switch the hook off", () => {
  let dir: string;
  let app: string;
  beforeAll(async () => ({ dir, app } = await consumer("consumer-pins")));

  it("with a corrupted countersign.json, pinned modules are still checked against the receipt's namespaces", async () => {
    await withFile(join(dir, "countersign.json"), '{ "version": 1, "registries": ', async () => {
      expect((await runApp(app, machine)).stdout.trim()).toBe(UNTOUCHED);
      await withFile(join(dir, "node_modules/@acme/utils/index.js"), "module.exports = 'tampered';\n", async () => {
        expect(expectRefusal(await runApp(app, machine), "index.js", "@acme/utils@1.0.0")).toContain("its bytes differ from the signed digest");
      });
    });
  });

  it("with a corrupted countersign.json and no trusted receipt, every node_modules module is refused", async () => {
    const other = { ...machine, XDG_CONFIG_HOME: join(work, "other-machine-config") }; // a machine without the receipt key
    await withFile(join(dir, "countersign.json"), "not json at all", async () => {
      const reason = expectRefusal(await runApp(app, other), "index.js", "@acme/esm");
      expect(reason).toContain(`${join(dir, "countersign.json")} is not valid JSON, and no receipt signed by a trusted key says which namespaces are pinned`);
    });
    // Deleting countersign.json does not switch it off either: the receipt marks the project.
    renameSync(join(dir, "countersign.json"), join(dir, "countersign.json.away"));
    try {
      expect(expectRefusal(await runApp(app, other), "index.js", "@acme/esm")).toContain(`no pins file at ${join(dir, "countersign.json")}`);
    } finally {
      renameSync(join(dir, "countersign.json.away"), join(dir, "countersign.json"));
    }
  });
});

describe("a package directory swapped for a symlink is refused", () => {
  let dir: string;
  let app: string;
  beforeAll(async () => ({ dir, app } = await consumer("consumer-swap")));

  it("node_modules/@acme/utils linked to a directory outside the project is refused, naming the link and its target", async () => {
    const evil = join(work, "evil-utils");
    mkdirSync(evil, { recursive: true });
    writeFileSync(join(evil, "package.json"), JSON.stringify({ name: "@acme/utils", version: "1.0.0", main: "index.js" }));
    writeFileSync(join(evil, "index.js"), "module.exports = 'evil code';\n");
    const installed = join(dir, "node_modules", "@acme", "utils");
    renameSync(installed, `${installed}.real`);
    symlinkSync(evil, installed, "dir");
    try {
      // Node itself loads the swapped code by its real path (the hole):
      const plain = await new Promise<string>((resolve) => execFile(process.execPath, ["-p", 'require("@acme/utils")'], { cwd: dir }, (_e, stdout) => resolve(stdout.trim())));
      expect(plain).toBe("evil code");
      const reason = expectRefusal(await runApp(app, machine), "index.js", "@acme/utils");
      expect(reason).toBe(`${installed} is a link to ${evil}, not to node_modules/@acme/utils inside the project (a swapped package)`);
    } finally {
      rmSync(installed);
      renameSync(`${installed}.real`, installed);
    }
    expect((await runApp(app, machine)).stdout.trim()).toBe(UNTOUCHED);
  });

  it("a pnpm install (links into node_modules/.pnpm) still loads, and a swap there is refused", async () => {
    const { dir: pdir, app: papp } = await consumer("consumer-swap-pnpm", { manager: "pnpm" });
    const link = join(pdir, "node_modules", "@acme", "utils");
    expect(realpathSync(link)).toContain(join("node_modules", ".pnpm"));
    const run = await runApp(papp, machine);
    expect(run.stderr).toBe("");
    expect(run.stdout.trim()).toBe(UNTOUCHED);
    const evil = join(work, "evil-utils-pnpm");
    cpSync(realpathSync(link), evil, { recursive: true });
    writeFileSync(join(evil, "index.js"), "module.exports = 'evil code';\n");
    rmSync(link);
    symlinkSync(evil, link, "dir");
    expect(expectRefusal(await runApp(papp, machine), "index.js", "@acme/utils")).toBe(`${link} is a link to ${evil}, not to node_modules/@acme/utils inside the project (a swapped package)`);
  });
});

describe("receipts made in CI are used on another machine, without copying a private key", () => {
  let ciKeyFile: string;
  let ciKeyid: string;
  let ci: Record<string, string>;
  let production: Record<string, string>;

  beforeAll(async () => {
    // The team makes a receipt key for CI (outside any project) and commits its fingerprint.
    ciKeyFile = join(work, "secrets", "ci-receipt-key.json");
    ciKeyid = (await runJson<{ keyid: string }>(["keygen", "--receipt", "--out", ciKeyFile])).keyid;
    ci = { XDG_CONFIG_HOME: join(work, "ci-config"), COUNTERSIGN_RECEIPT_KEY: readFileSync(ciKeyFile, "utf8"), COUNTERSIGN_RECEIPT_KEY_FILE: "" };
    production = { XDG_CONFIG_HOME: join(work, "production-config"), HOME: join(work, "production-home"), COUNTERSIGN_RECEIPT_KEY: "", COUNTERSIGN_RECEIPT_KEY_FILE: "" };
  });

  it("keygen --receipt refuses to write the private key inside a project", async () => {
    const out = await runCli(["keygen", "--receipt", "--out", join(work, "consumer-cwd", "receipt-key.json")]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("refusing to write a private receipt key inside the project");
  });

  it("signed in CI with COUNTERSIGN_RECEIPT_KEY, the receipt loads on a machine whose countersign.json lists the signer", async () => {
    const { dir, app } = await consumer("consumer-ci", { pins: pins({ receipts: { signers: [ciKeyid] } }), env: ci });
    const receipt = readFileSync(join(dir, "countersign-receipt.json"), "utf8");
    const secret = JSON.parse(readFileSync(ciKeyFile, "utf8")) as { seed: string };
    expect(receipt).not.toContain(secret.seed);
    expect(readdirSync(dir).filter((f) => /key/i.test(f))).toEqual([]);
    // No key written on the CI machine either (its config directory keeps only the log's last checkpoint).
    const config = join(work, "ci-config", "countersign");
    expect(existsSync(config) ? readdirSync(config, { recursive: true }).filter((f) => /key/i.test(String(f))) : []).toEqual([]);
    const payload = JSON.parse(Buffer.from((JSON.parse(receipt) as { payload: string }).payload, "base64").toString("utf8")) as { signer: { keyid: string } };
    expect(payload.signer.keyid).toBe(ciKeyid);
    const run = await runApp(app, production);
    expect(run.stderr).toBe("");
    expect(run.stdout.trim()).toBe(UNTOUCHED);
    await withFile(join(dir, "node_modules/@acme/utils/index.js"), "module.exports = 'tampered';\n", async () => {
      expect(expectRefusal(await runApp(app, production), "index.js", "@acme/utils@1.0.0")).toContain("its bytes differ from the signed digest");
    });
  });

  it("the same receipt, with the signer not listed in countersign.json, is refused", async () => {
    const dir = join(work, "consumer-ci");
    const app = join(dir, "app.mjs");
    await withFile(join(dir, "countersign.json"), JSON.stringify(pins()), async () => {
      const reason = expectRefusal(await runApp(app, production), "index.js", /^@acme\/(utils|esm)$/);
      expect(reason).toBe(`receipt is signed by ${ciKeyid}, which is neither this machine's receipt key (it has none) nor a signer listed in countersign.json receipts.signers`);
    });
  });
});
