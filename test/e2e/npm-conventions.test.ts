/**
 * npm's conventions with the real npm client (docs/PROTOCOL.md §11, "The npm front door"):
 * `npm whoami` names the token, `npm token list / create / revoke` work on the registry's own
 * tokens, `npm view` shows the README and maintainers, and every command for a feature
 * countersign does not have prints one readable line saying so (never "[object Object]") and
 * exits non-zero.
 */

import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UNSUPPORTED_MESSAGES } from "../../src/worker/npm/unsupported-messages.js";
import { adminApi, publishDir, writePackage, type PublisherSetup } from "../helpers/actors.js";
import { runCli } from "../helpers/cli.js";
import { npm, type Run } from "../helpers/npm.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

let registry: TestRegistry;
let work: string;
let project: string;
let publisher: PublisherSetup;
let keyid: string;

/** `NPM_TRANSCRIPT=<file>`: append what npm printed for each command (for the docs). */
function transcript(args: string[], result: Run): Run {
  const file = process.env.NPM_TRANSCRIPT;
  if (file) appendFileSync(file, `$ npm ${args.join(" ")}   (exit ${result.code})\n${result.stdout}${result.stderr}\n`);
  return result;
}

const run = async (args: string[], cwd = project, env: Record<string, string> = {}) => transcript(args, await npm(args, cwd, env));

/** A project whose .npmrc carries `token` for the registry. */
function projectWith(token: string, name: string): string {
  const dir = join(work, name);
  writePackage(dir, `@acme/${name}`, "1.0.0", name);
  writeFileSync(join(dir, ".npmrc"), `registry=${registry.url}/\n${registry.url.replace(/^http:/, "")}/:_authToken=${token}\n`);
  return dir;
}

beforeAll(async () => {
  registry = await startRegistry({ name: "npm-conventions" });
  work = mkdtempSync(join(tmpdir(), "countersign-npm-conventions-"));
  const keyFile = join(work, "key.json");
  await runCli(["keygen", "--out", keyFile]);
  const { publicKey } = JSON.parse(readFileSync(keyFile, "utf8")) as { publicKey: string };
  await adminApi(registry, "POST", "/namespaces", { namespace: "@acme" });
  ({ keyid } = (await adminApi(registry, "POST", "/namespaces/%40acme/keys", { publicKey, label: "acme-release-key" })) as { keyid: string });
  const { token } = (await adminApi(registry, "POST", "/tokens", { scope: "publish", namespaces: ["@acme"], label: "acme-ci" })) as { token: string };
  publisher = { keyFile, token };
  const dir = writePackage(join(work, "tool"), "@acme/tool", "1.0.0", "one");
  writeFileSync(join(dir, "README.md"), "# @acme/tool\n\nA tool, signed by its publisher.\n");
  await publishDir(registry, publisher, dir);
  project = projectWith(publisher.token, "project");
});

afterAll(async () => {
  await registry?.stop();
});

/** The command failed, printing `message` on one line of its own, and no "[object Object]". */
function expectRefused(result: Run, message: string): void {
  expect(result.code, result.stdout + result.stderr).not.toBe(0);
  const output = result.stdout + result.stderr;
  expect(output).not.toContain("[object Object]");
  expect(output.split("\n").some((line) => line.includes(message))).toBe(true);
}

describe("npm whoami, view readme, view maintainers, owner ls", () => {
  it("npm whoami prints the token's label", async () => {
    const result = await run(["whoami"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe("acme-ci");
  });

  it("npm view <pkg> readme prints the README from the signed tarball", async () => {
    const result = await run(["view", "@acme/tool", "readme"]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("A tool, signed by its publisher.");
  });

  it("npm view <pkg> maintainers and npm owner ls name the namespace's publisher keys", async () => {
    const view = await run(["view", "@acme/tool", "maintainers"]);
    expect(view.code, view.stderr).toBe(0);
    expect(view.stdout.trim()).toBe(`acme-release-key <${keyid}>`);
    const owners = await run(["owner", "ls", "@acme/tool"]);
    expect(owners.code, owners.stderr).toBe(0);
    expect(owners.stdout.trim()).toBe(`acme-release-key <${keyid}>`);
    const full = await run(["view", "@acme/tool"]);
    expect(full.stdout).toContain(`published`);
    expect(full.stdout).toContain(`by acme-release-key <${keyid}>`);
  });
});

describe("npm token", () => {
  it("list shows the token without revealing it; create makes a read-only token shown once; revoke removes it", async () => {
    const list = await run(["token", "list"]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(`Token ${publisher.token.slice(0, 7)}… with id tok_`);
    expect(list.stdout).toContain("name acme-ci");
    expect(list.stdout + list.stderr).not.toContain(publisher.token);

    const create = await run(["token", "create", "--password", "unused", "--name", "laptop"]);
    expect(create.code, create.stderr).toBe(0);
    const made = /Created token (cs_[A-Za-z0-9_-]{43})/.exec(create.stdout)?.[1];
    expect(made, create.stdout).toBeDefined();
    const laptop = projectWith(made!, "laptop");
    expect((await run(["whoami"], laptop)).stdout.trim()).toBe("laptop");
    expect((await run(["view", "@acme/tool", "version"], laptop)).stdout.trim()).toBe("1.0.0");

    const listed = JSON.parse((await run(["token", "list", "--json"])).stdout) as { key: string; name: string; readonly: boolean; token: string }[];
    expect(listed.map((t) => [t.name, t.readonly])).toEqual([["acme-ci", false], ["laptop", true]]);
    expect(JSON.stringify(listed)).not.toContain(made);
    const key = listed.find((t) => t.name === "laptop")!.key;

    const revoke = await run(["token", "revoke", key]);
    expect(revoke.code, revoke.stderr).toBe(0);
    expect(revoke.stdout.trim()).toBe("Removed 1 token");
    const after = await run(["whoami"], laptop);
    expect(after.code).not.toBe(0);
    expect(after.stdout + after.stderr).not.toContain("[object Object]");
  });

  it("refuses --cidr and publish tokens with a reason", async () => {
    expectRefused(await run(["token", "create", "--password", "unused", "--cidr", "10.0.0.0/8"]), "countersign tokens cannot be limited to IP ranges (CIDR)");
    expectRefused(await run(["token", "create", "--password", "unused", "--packages-and-scopes-permission", "read-write"]), "npm token create makes read-only tokens on countersign registries");
  });
});

describe("features countersign does not have: one readable line, non-zero exit", () => {
  it.each([
    ["star @acme/tool", "stars"],
    ["unstar @acme/tool", "stars"],
    ["stars", "stars"],
    ["owner add someone @acme/tool", "accounts"],
    ["owner rm someone @acme/tool", "accounts"],
    ["team ls acme", "teams"],
    ["team ls acme:developers", "teams"],
    ["access list packages acme", "access"],
    ["access list collaborators @acme/tool", "access"],
    ["access get status @acme/tool", "access"],
    ["profile get", "profile"],
    ["org ls acme", "orgs"],
  ] as const)("npm %s", async (command, what) => {
    expectRefused(await run(command.split(" ")), UNSUPPORTED_MESSAGES[what]);
  });

  it("an unknown route prints its reason, not [object Object]", async () => {
    const result = await run(["view", "@acme/missing"]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("@acme/missing is not in this registry");
    expect(result.stderr).not.toContain("[object Object]");
  });
});
