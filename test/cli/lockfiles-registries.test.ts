/**
 * configuredRegistry: where each package manager would fetch a name from, read from the config
 * files the fixtures were installed with, and from hand-made ones (precedence, scopes, env).
 * HOME is always a fresh temporary folder, so this machine's own config never leaks in.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { configuredRegistry } from "../../scripts/cli/lockfiles/registries.js";
import type { Manager } from "../../scripts/cli/lockfiles/types.js";

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/lockfiles/${name}`, import.meta.url));
const emptyHome = () => mkdtempSync(join(tmpdir(), "countersign-home-"));

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "countersign-registries-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

describe("the registries the fixtures were installed from", () => {
  it.each<[string, Manager]>([
    ["npm", "npm"],
    ["pnpm", "pnpm"],
    ["yarn-classic", "yarn-classic"],
    ["yarn-berry", "yarn-berry"],
    ["bun", "bun"],
  ])("%s: the @acme scope from /acme, the rest from the root", (dir, manager) => {
    const registryOf = configuredRegistry(fixture(dir), manager, {}, emptyHome());
    expect(registryOf("@acme/utils")).toBe("http://127.0.0.1:4873/acme");
    expect(registryOf("left-pad")).toBe("http://127.0.0.1:4873");
  });
});

describe("configuredRegistry", () => {
  it("falls back to each tool's default", () => {
    const dir = folder({});
    const home = emptyHome();
    expect(configuredRegistry(dir, "npm", {}, home)("x")).toBe("https://registry.npmjs.org");
    expect(configuredRegistry(dir, "pnpm", {}, home)("@s/x")).toBe("https://registry.npmjs.org");
    expect(configuredRegistry(dir, "bun", {}, home)("x")).toBe("https://registry.npmjs.org");
    expect(configuredRegistry(dir, "yarn-classic", {}, home)("x")).toBe("https://registry.yarnpkg.com");
    expect(configuredRegistry(dir, "yarn-berry", {}, home)("x")).toBe("https://registry.yarnpkg.com");
  });

  it(".npmrc: env over project over user, a scope anywhere over the default, ${VAR} expanded", () => {
    const home = emptyHome();
    writeFileSync(join(home, ".npmrc"), "registry=https://user.example/\n@acme:registry=https://user-acme.example/npm/\n");
    const dir = folder({ ".npmrc": "; comment\nregistry = https://project.example/${SUFFIX}/\n" });
    const registryOf = configuredRegistry(dir, "npm", { SUFFIX: "npm" }, home);
    expect(registryOf("x")).toBe("https://project.example/npm");
    expect(registryOf("@acme/x")).toBe("https://user-acme.example/npm");
    expect(configuredRegistry(dir, "pnpm", { npm_config_registry: "https://env.example/" }, home)("x")).toBe("https://env.example");
    expect(configuredRegistry(folder({}), "npm", {}, home)("x")).toBe("https://user.example");
  });

  it("yarn 1: .yarnrc before .npmrc", () => {
    const dir = folder({ ".yarnrc": 'registry "https://yarnrc.example/"\n"@acme:registry" "https://yarnrc-acme.example"\n', ".npmrc": "registry=https://npmrc.example/\n@other:registry=https://other.example/\n" });
    const registryOf = configuredRegistry(dir, "yarn-classic", {}, emptyHome());
    expect([registryOf("x"), registryOf("@acme/x"), registryOf("@other/x")]).toEqual(["https://yarnrc.example", "https://yarnrc-acme.example", "https://other.example"]);
  });

  it("yarn berry: env, then the nearest .yarnrc.yml up the tree; scopes fall back to npmRegistryServer", () => {
    const dir = folder({
      ".yarnrc.yml": 'npmRegistryServer: "https://outer.example"\nnpmScopes:\n  acme:\n    npmRegistryServer: "https://acme.example/"\n',
      "app/.yarnrc.yml": 'npmRegistryServer: "https://inner.example/"\nnpmScopes:\n  other:\n    npmAuthToken: "${TOKEN}"\n',
    });
    const registryOf = configuredRegistry(join(dir, "app"), "yarn-berry", {}, emptyHome());
    expect([registryOf("x"), registryOf("@acme/x"), registryOf("@other/x")]).toEqual(["https://inner.example", "https://acme.example", "https://inner.example"]);
    expect(configuredRegistry(join(dir, "app"), "yarn-berry", { YARN_NPM_REGISTRY_SERVER: "https://env.example" }, emptyHome())("x")).toBe("https://env.example");
  });

  it("bun: bunfig.toml tables (strings and inline tables), then .npmrc", () => {
    const dir = folder({
      "bunfig.toml": '# bun\n[install]\nregistry = { url = "https://bunfig.example/", token = "$TOKEN" }\n\n[install.scopes]\nacme = "https://acme.example/" # inline comment\n"@team" = { token = "t", url = "https://team.example" }\n',
      ".npmrc": "@other:registry=https://npmrc-other.example/\n",
    });
    const registryOf = configuredRegistry(dir, "bun", {}, emptyHome());
    expect([registryOf("x"), registryOf("@acme/x"), registryOf("@team/x"), registryOf("@other/x")]).toEqual([
      "https://bunfig.example",
      "https://acme.example",
      "https://team.example",
      "https://npmrc-other.example",
    ]);
    expect(configuredRegistry(dir, "bun", { BUN_CONFIG_REGISTRY: "https://env.example/" }, emptyHome())("x")).toBe("https://env.example");
  });
});
