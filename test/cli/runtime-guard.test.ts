/**
 * The runtime hook's decisions, without processes (docs/PROTOCOL.md §17): which project it
 * enforces, which package directories are swapped for links, what it refuses when the pins or
 * the receipt cannot be used, and the one line an uncaught refusal prints. The same rules run end
 * to end in test/e2e/runtime-hook.test.ts.
 */

import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { generateKeyPair, toBase64, type KeyPair, type ReceiptPackage } from "../../src/core/index.js";
import { keyFromText, readReceipt, writeReceipt } from "../../scripts/cli/receipts.js";
import { createGuard, preservesSymlinks, UnverifiedModuleError, type GuardState } from "../../scripts/runtime/guard.js";
import { scanInstalls } from "../../scripts/runtime/installs.js";
import { entryModule, findProjectDir } from "../../scripts/runtime/project.js";
import { refusalLine } from "../../scripts/runtime/refusal.js";
import { loadGuardState } from "../../scripts/runtime/state.js";

let work: string;
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const keyJson = (key: KeyPair) => JSON.stringify({ type: "countersign-private-key", version: 1, algorithm: "ed25519", keyid: key.keyid, publicKey: toBase64(key.publicKey), seed: toBase64(key.seed) });

function write(path: string, text: string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

function link(target: string, path: string): void {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path, "dir");
}

/** A package directory with package.json and index.js; returns its receipt entry. */
function writePackage(dir: string, name: string, code = `module.exports = ${JSON.stringify(name)};\n`): ReceiptPackage {
  const manifest = JSON.stringify({ name, version: "1.0.0", main: "index.js" });
  write(join(dir, "package.json"), manifest);
  write(join(dir, "index.js"), code);
  return {
    name,
    version: "1.0.0",
    namespace: name.split("/")[0]!,
    integrity: "sha512-unused",
    publisher: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    registry: "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    files: [
      { path: "index.js", size: code.length, sha256: sha256(code) },
      { path: "package.json", size: manifest.length, sha256: sha256(manifest) },
    ],
  };
}

const PINS = (signers?: string[]) => JSON.stringify({ version: 1, registries: { team: { url: "https://registry.invalid", fingerprints: ["SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] } }, namespaces: { "@acme": "team", "*": "allow" }, ...(signers ? { receipts: { signers } } : {}) });

/** A project with @acme/utils installed npm-style, a lockfile, and (optionally) a receipt signed with `key`. */
async function project(name: string, options: { pins?: string; receiptKey?: KeyPair } = {}) {
  const dir = realpathSync(mkdtempSync(join(work, `${name}-`)));
  write(join(dir, "countersign.json"), options.pins ?? PINS());
  write(join(dir, "package-lock.json"), JSON.stringify({ name, lockfileVersion: 3, packages: { "": { name } } }));
  write(join(dir, "app.js"), 'require("@acme/utils");\n');
  const utils = writePackage(join(dir, "node_modules", "@acme", "utils"), "@acme/utils");
  writePackage(join(dir, "node_modules", "left-pad"), "left-pad");
  if (options.receiptKey) {
    vi.stubEnv("COUNTERSIGN_RECEIPT_KEY", keyJson(options.receiptKey));
    await writeReceipt(dir, [join(dir, "package-lock.json")], ["@acme"], [utils]);
    vi.stubEnv("COUNTERSIGN_RECEIPT_KEY", "");
  }
  return dir;
}

const state = (dir: string, overrides: Partial<GuardState> = {}): GuardState => ({ projectDir: dir, pins: null, receiptNamespaces: [], receipt: null, problem: null, lockdown: null, swapped: [], unlisted: [], nodeGivesRealPaths: true, ...overrides });

function refusal(run: () => void): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(UnverifiedModuleError);
    return (err as Error).message;
  }
  return "loaded";
}

beforeAll(() => {
  work = realpathSync(mkdtempSync(join(tmpdir(), "countersign-guard-")));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => vi.unstubAllEnvs());

describe("project discovery: from the entry module, not the working directory", () => {
  it("finds the project of the entry module from any working directory, through symlinks", async () => {
    const dir = await project("entry");
    expect(findProjectDir({ env: {}, entry: join(dir, "app.js"), cwd: "/" })).toBe(dir);
    link(dir, join(work, "entry-link"));
    expect(findProjectDir({ env: {}, entry: join(work, "entry-link", "app.js"), cwd: "/" })).toBe(dir);
    // `node app` (no extension): the file does not exist as named, its directory does.
    expect(findProjectDir({ env: {}, entry: "app", cwd: dir })).toBe(dir);
  });

  it("COUNTERSIGN_PROJECT_DIR wins; the working directory is used only without an entry module", async () => {
    const dir = await project("explicit");
    const other = await project("other");
    expect(findProjectDir({ env: { COUNTERSIGN_PROJECT_DIR: other }, entry: join(dir, "app.js"), cwd: dir })).toBe(other);
    expect(findProjectDir({ env: {}, entry: undefined, cwd: join(dir, "node_modules") })).toBe(dir);
    expect(findProjectDir({ env: {}, entry: "-", cwd: dir })).toBe(dir);
    expect(findProjectDir({ env: {}, entry: undefined, cwd: "/" })).toBeUndefined();
    // With -e/-p, argv[1] is an argument of the evaluated code, not an entry module.
    expect(entryModule(["node", "/etc/x"], ["-e", "code"])).toBeUndefined();
    expect(entryModule(["node", "/etc/x"], ["--eval=code"])).toBeUndefined();
    expect(entryModule(["node", "/etc/x"], ["-pe", "code"])).toBeUndefined();
    expect(entryModule(["node", "/srv/app.js"], ["--import", "hook.mjs", "--enable-source-maps"])).toBe("/srv/app.js");
  });

  it("a package cannot make itself the project with its own countersign.json, and a deleted countersign.json still leaves the receipt", async () => {
    const dir = await project("inner");
    write(join(dir, "node_modules", "evil", "countersign.json"), JSON.stringify({ version: 1, registries: {}, namespaces: { "*": "allow", "@*": "allow" } }));
    expect(findProjectDir({ env: {}, entry: join(dir, "node_modules", "evil", "bin.js"), cwd: "/" })).toBe(dir);
    rmSync(join(dir, "countersign.json"));
    write(join(dir, "countersign-receipt.json"), "{}");
    expect(findProjectDir({ env: {}, entry: join(dir, "app.js"), cwd: "/" })).toBe(dir);
  });
});

describe("swapped package directories", () => {
  const pinned = (name: string) => name.startsWith("@acme/");

  it("an npm install has none; a pinned package linked out of the project, or to another name, is one", async () => {
    const dir = await project("swap");
    expect(scanInstalls(dir, pinned)).toEqual({ swapped: [], unlisted: [] });
    const evil = join(work, "evil-utils");
    writePackage(evil, "@acme/utils", "module.exports = 'evil';\n");
    rmSync(join(dir, "node_modules", "@acme", "utils"), { recursive: true });
    link(evil, join(dir, "node_modules", "@acme", "utils"));
    link(join(dir, "node_modules", "left-pad"), join(dir, "node_modules", "@acme", "other"));
    link(evil, join(dir, "node_modules", "unpinned-link")); // not in a pinned namespace: not a swap
    const { swapped } = scanInstalls(dir, pinned);
    expect(swapped).toEqual(
      expect.arrayContaining([
        { name: "@acme/utils", link: join(dir, "node_modules", "@acme", "utils"), target: evil },
        { name: "@acme/other", link: join(dir, "node_modules", "@acme", "other"), target: join(dir, "node_modules", "left-pad") },
      ]),
    );
    expect(swapped).toHaveLength(2);
  });

  it("finds swaps in nested node_modules and behind a linked scope directory", async () => {
    const dir = await project("nested");
    const evil = join(work, "evil-nested");
    writePackage(join(evil, "core"), "@acme/core");
    link(join(evil, "core"), join(dir, "node_modules", "left-pad", "node_modules", "@acme", "core"));
    const scoped = await project("scoped");
    rmSync(join(scoped, "node_modules", "@acme"), { recursive: true });
    link(evil, join(scoped, "node_modules", "@acme"));
    expect(scanInstalls(dir, pinned).swapped).toEqual([{ name: "@acme/core", link: join(dir, "node_modules", "left-pad", "node_modules", "@acme", "core"), target: join(evil, "core") }]);
    expect(scanInstalls(scoped, pinned).swapped).toEqual([{ name: "@acme/core", link: join(scoped, "node_modules", "@acme", "core"), target: join(evil, "core") }]);
  });

  it("pnpm's layout is not a swap, but a swap inside its store is", async () => {
    const dir = realpathSync(mkdtempSync(join(work, "pnpm-")));
    const store = join(dir, "node_modules", ".pnpm");
    writePackage(join(store, "@acme+utils@1.0.0", "node_modules", "@acme", "utils"), "@acme/utils");
    writePackage(join(store, "@acme+core@1.0.0", "node_modules", "@acme", "core"), "@acme/core");
    link("../../../@acme+core@1.0.0/node_modules/@acme/core", join(store, "@acme+utils@1.0.0", "node_modules", "@acme", "core"));
    link("../.pnpm/@acme+utils@1.0.0/node_modules/@acme/utils", join(dir, "node_modules", "@acme", "utils"));
    link("../../@acme+utils@1.0.0/node_modules/@acme/utils", join(store, "node_modules", "@acme", "utils"));
    expect(scanInstalls(dir, pinned)).toEqual({ swapped: [], unlisted: [] });
    const evil = join(work, "evil-pnpm");
    writePackage(evil, "@acme/core");
    rmSync(join(store, "@acme+utils@1.0.0", "node_modules", "@acme", "core"));
    link(evil, join(store, "@acme+utils@1.0.0", "node_modules", "@acme", "core"));
    expect(scanInstalls(dir, pinned).swapped).toEqual([{ name: "@acme/core", link: join(store, "@acme+utils@1.0.0", "node_modules", "@acme", "core"), target: evil }]);
  });

  it("with --preserve-symlinks, the guard resolves paths itself: a swap's files are refused by their link path too", async () => {
    expect(preservesSymlinks(["--preserve-symlinks"], {})).toBe(true);
    expect(preservesSymlinks([], { NODE_OPTIONS: "--enable-source-maps --preserve-symlinks-main" })).toBe(true);
    expect(preservesSymlinks([], { NODE_PRESERVE_SYMLINKS: "1" })).toBe(true);
    expect(preservesSymlinks(["--import", "hook.mjs"], {})).toBe(false);
    const dir = await project("preserve");
    const evil = join(work, "evil-preserve");
    writePackage(evil, "@acme/utils", "module.exports = 'evil';\n");
    rmSync(join(dir, "node_modules", "@acme", "utils"), { recursive: true });
    link(evil, join(dir, "node_modules", "@acme", "utils"));
    const swapped = scanInstalls(dir, (name) => name.startsWith("@acme/")).swapped;
    const check = createGuard(state(dir, { swapped, nodeGivesRealPaths: false }));
    expect(refusal(() => check(join(dir, "node_modules", "@acme", "utils", "index.js"), ""))).toContain("(a swapped package)");
  });

  it("the guard refuses files under a swap's target, naming the link and where it points", async () => {
    const dir = await project("guard-swap");
    const swap = { name: "@acme/utils", link: join(dir, "node_modules", "@acme", "utils"), target: join(work, "evil-utils") };
    const check = createGuard(state(dir, { swapped: [swap] }));
    expect(refusal(() => check(join(work, "evil-utils", "lib", "x.js"), ""))).toBe(`countersign: refusing to load lib/x.js of @acme/utils: ${swap.link} is a link to ${swap.target}, not to node_modules/@acme/utils inside the project (a swapped package)`);
    expect(refusal(() => check(join(work, "elsewhere.js"), ""))).toBe("loaded");
  });

  it("when a node_modules directory cannot be listed, files outside the project that name no package are refused", async () => {
    const dir = await project("unlisted");
    const check = createGuard(state(dir, { unlisted: [`${join(dir, "node_modules", "@acme")} (EACCES)`] }));
    expect(refusal(() => check(join(work, "somewhere", "index.js"), ""))).toContain(`${join(dir, "node_modules", "@acme")} (EACCES) cannot be listed`);
    expect(refusal(() => check(join(dir, "app.js"), ""))).toBe("loaded");
  });
});

describe("unusable pins or receipt never switch the hook off", () => {
  it("with countersign.json unreadable and no trusted receipt, every node_modules file is refused; the project's own files load", async () => {
    const dir = await project("lockdown", { pins: "{ not json" });
    vi.stubEnv("COUNTERSIGN_RECEIPT_KEY_FILE", join(work, "no-such-key.json"));
    const loaded = (await loadGuardState({ env: {}, entry: join(dir, "app.js"), cwd: "/", execArgv: [] }))!;
    expect(loaded.lockdown).toContain(`${join(dir, "countersign.json")} is not valid JSON, and no receipt signed by a trusted key says which namespaces are pinned`);
    const check = createGuard(loaded);
    expect(refusal(() => check(join(dir, "node_modules", "left-pad", "index.js"), ""))).toMatch(/^countersign: refusing to load index\.js of left-pad: .* is not valid JSON/);
    expect(refusal(() => check(join(dir, "app.js"), ""))).toBe("loaded");
  });

  it("with countersign.json invalid but a receipt signed by this machine, the namespaces the receipt lists stay pinned", async () => {
    const machine = await generateKeyPair();
    const dir = await project("receipt-namespaces", { receiptKey: machine });
    write(join(dir, "countersign.json"), JSON.stringify({ version: 1, registries: {}, namespaces: { "@acme": "nowhere" } }));
    vi.stubEnv("COUNTERSIGN_RECEIPT_KEY", keyJson(machine));
    const loaded = (await loadGuardState({ env: {}, entry: join(dir, "app.js"), cwd: "/", execArgv: [] }))!;
    expect(loaded).toMatchObject({ pins: null, lockdown: null, problem: null, receiptNamespaces: ["@acme"] });
    const check = createGuard(loaded);
    const file = join(dir, "node_modules", "@acme", "utils", "index.js");
    expect(refusal(() => check(file, 'module.exports = "@acme/utils";\n'))).toBe("loaded");
    expect(refusal(() => check(file, "evil"))).toContain("refusing to load index.js of @acme/utils@1.0.0: its bytes differ from the signed digest");
    expect(refusal(() => check(join(dir, "node_modules", "left-pad", "index.js"), "anything"))).toBe("loaded");
  });

  it("a receipt signed by a CI key counts where countersign.json lists the key, and nowhere else", async () => {
    const ci = await generateKeyPair();
    const dir = await project("ci", { receiptKey: ci, pins: PINS([ci.keyid]) });
    vi.stubEnv("COUNTERSIGN_RECEIPT_KEY_FILE", join(work, "no-such-key.json"));
    const trusted = (await loadGuardState({ env: {}, entry: join(dir, "app.js"), cwd: "/", execArgv: [] }))!;
    expect(trusted).toMatchObject({ problem: null, lockdown: null });
    expect(trusted.receipt?.signer?.keyid).toBe(ci.keyid);
    expect((await readReceipt(dir, { pins: trusted.pins }))?.signer?.keyid).toBe(ci.keyid);
    expect(await readReceipt(dir)).toBeUndefined();
    write(join(dir, "countersign.json"), PINS());
    const untrusted = (await loadGuardState({ env: {}, entry: join(dir, "app.js"), cwd: "/", execArgv: [] }))!;
    expect(untrusted.problem).toBe(`receipt is signed by ${ci.keyid}, which is neither this machine's receipt key (it has none) nor a signer listed in countersign.json receipts.signers`);
    expect(refusal(() => createGuard(untrusted)(join(dir, "node_modules", "@acme", "utils", "index.js"), ""))).toContain(`refusing to load index.js of @acme/utils: receipt is signed by ${ci.keyid}`);
  });
});

describe("receipt keys", () => {
  it("COUNTERSIGN_RECEIPT_KEY takes a key file's JSON or a base64 seed; a malformed one is an error, not a new key", async () => {
    const ci = await generateKeyPair();
    expect((await keyFromText(keyJson(ci), "env")).keyid).toBe(ci.keyid);
    expect((await keyFromText(` ${toBase64(ci.seed)}\n`, "env")).keyid).toBe(ci.keyid);
    await expect(keyFromText("{}", "COUNTERSIGN_RECEIPT_KEY")).rejects.toThrow("COUNTERSIGN_RECEIPT_KEY is not a countersign key file");
    await expect(keyFromText("c2hvcnQ=", "COUNTERSIGN_RECEIPT_KEY")).rejects.toThrow("neither a countersign key file's JSON nor a base64 32-byte seed");
  });

  it("a private receipt key is never created inside a project", async () => {
    const dir = await project("key-in-project");
    vi.stubEnv("COUNTERSIGN_RECEIPT_KEY", "");
    vi.stubEnv("COUNTERSIGN_RECEIPT_KEY_FILE", join(dir, "keys", "receipt-key.json"));
    await expect(writeReceipt(dir, [join(dir, "package-lock.json")], ["@acme"], [])).rejects.toThrow(`refusing to write a private receipt key inside the project ${dir}`);
  });
});

describe("an uncaught refusal is one line", () => {
  it("recognises refusals by code, also wrapped or from the loader thread, and keeps them on one line", () => {
    const error = new UnverifiedModuleError("@acme/utils@1.0.0", "index.js", "its bytes differ\nfrom the signed digest");
    expect(refusalLine(error)).toBe("countersign: refusing to load index.js of @acme/utils@1.0.0: its bytes differ from the signed digest");
    const fromLoaderThread = Object.assign(new Error(error.message), { code: error.code });
    expect(refusalLine(fromLoaderThread)).toBe(refusalLine(error));
    expect(refusalLine(new Error("app failed", { cause: error }))).toBe(refusalLine(error));
    expect(refusalLine(new Error("countersign: refusing to load, but not really"))).toBeUndefined();
    expect(refusalLine("a string")).toBeUndefined();
  });
});
