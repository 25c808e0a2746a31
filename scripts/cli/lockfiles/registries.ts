/**
 * @module
 * Which registry a package manager would fetch a name from in a project: a lockfile that records
 * no tarball URL (yarn berry, bun's "", npm with omit-lockfile-registry-resolved) leaves it to
 * the configuration, and the verifier must look where the tool would. Read directly from the
 * config files (no `npm config` child process), highest precedence first:
 *
 *   npm, pnpm     env npm_config_registry / npm_config_@scope:registry, <dir>/.npmrc, ~/.npmrc
 *                 (or $npm_config_userconfig); default https://registry.npmjs.org
 *   yarn-classic  <dir>/.yarnrc, ~/.yarnrc (`registry "…"`, `"@scope:registry" "…"`), then the npm
 *                 sources above; default https://registry.yarnpkg.com
 *   yarn-berry    env YARN_NPM_REGISTRY_SERVER, .yarnrc.yml from <dir> up to the filesystem root
 *                 (nearest wins), ~/.yarnrc.yml: `npmScopes.<scope>.npmRegistryServer`, then
 *                 `npmRegistryServer`; default https://registry.yarnpkg.com
 *   bun           env BUN_CONFIG_REGISTRY / NPM_CONFIG_REGISTRY, <dir>/bunfig.toml, global
 *                 bunfig ($XDG_CONFIG_HOME or ~/.bunfig.toml) (`[install] registry`,
 *                 `[install.scopes]`), then the npm sources; default https://registry.npmjs.org
 *
 * Not read: npm's global and builtin npmrc, per-workspace .npmrc files, pnpm-workspace.yaml
 * settings, yarn's `npmRegistryServer` per-package overrides. `${VAR}` in values is expanded
 * from the environment as the tools do. The result has no trailing slash.
 */

import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { Manager } from "./types.js";

export const NPM_DEFAULT_REGISTRY = "https://registry.npmjs.org";
export const YARN_DEFAULT_REGISTRY = "https://registry.yarnpkg.com";

type Env = Record<string, string | undefined>;

/** A registry table: the default (`registry`) and one per scope (`@acme`). */
interface Registries {
  registry?: string;
  scopes: Record<string, string>;
}

const trimSlash = (url: string): string => url.replace(/\/+$/, "");
const expand = (value: string, env: Env): string => value.replace(/\$\{([^}:]+)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) => env[name] ?? fallback ?? "");
const unquote = (value: string): string => (/^(["']).*\1$/.test(value) ? value.slice(1, -1) : value);
const readIfPresent = (file: string): string | undefined => (existsSync(file) ? readFileSync(file, "utf8") : undefined);

/** `registry=…` and `@scope:registry=…` lines of an .npmrc (ini). */
export function parseNpmrc(text: string, env: Env): Registries {
  const found: Registries = { scopes: {} };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith(";") || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = expand(unquote(line.slice(eq + 1).trim()), env);
    if (key === "registry") found.registry = value;
    const scoped = /^(@[^:]+):registry$/.exec(key);
    if (scoped?.[1]) found.scopes[scoped[1]] = value;
  }
  return found;
}

/** yarn 1's .yarnrc: `registry "…"` and `"@scope:registry" "…"` lines. */
export function parseYarnrc(text: string, env: Env): Registries {
  const found: Registries = { scopes: {} };
  for (const raw of text.split(/\r?\n/)) {
    const match = /^\s*("[^"]+"|[^\s#]+)\s+(.+?)\s*$/.exec(raw);
    if (!match?.[1] || !match[2] || raw.trim().startsWith("#")) continue;
    const key = unquote(match[1]);
    const value = expand(unquote(match[2]), env);
    if (key === "registry") found.registry = value;
    const scoped = /^(@[^:]+):registry$/.exec(key);
    if (scoped?.[1]) found.scopes[scoped[1]] = value;
  }
  return found;
}

/** The `[install] registry` and `[install.scopes]` of a bunfig.toml (the small TOML subset they use). */
export function parseBunfig(text: string, env: Env): Registries {
  const found: Registries = { scopes: {} };
  let table = "";
  const urlOf = (value: string): string | undefined => {
    const inline = /^\{(.*)\}$/.exec(value);
    const url = inline ? /(?:^|,)\s*url\s*=\s*("[^"]*"|'[^']*')/.exec(inline[1] ?? "")?.[1] : /^("[^"]*"|'[^']*')$/.test(value) ? value : undefined;
    return url === undefined ? undefined : expand(unquote(url), env);
  };
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, "").trim();
    if (!line || line.startsWith("#")) continue;
    const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line);
    if (header?.[1]) {
      table = header[1].replace(/\s*\.\s*/g, ".").replace(/"/g, "");
      continue;
    }
    const pair = /^("[^"]+"|'[^']+'|[\w@.-]+)\s*=\s*(.+)$/.exec(line);
    if (!pair?.[1] || !pair[2]) continue;
    const key = unquote(pair[1]);
    const url = urlOf(pair[2].trim());
    if (url === undefined) continue;
    if (table === "install" && key === "registry") found.registry = url;
    if (table === "install.scopes") found.scopes[key.startsWith("@") ? key : `@${key}`] = url;
  }
  return found;
}

/** Berry's .yarnrc.yml: `npmRegistryServer` and `npmScopes.<scope>.npmRegistryServer`. */
export function parseYarnrcYml(text: string, env: Env): Registries {
  const found: Registries = { scopes: {} };
  let yaml: unknown;
  try {
    yaml = parseYaml(text);
  } catch {
    return found;
  }
  if (typeof yaml !== "object" || yaml === null) return found;
  if ("npmRegistryServer" in yaml && typeof yaml.npmRegistryServer === "string") found.registry = expand(yaml.npmRegistryServer, env);
  const scopes = "npmScopes" in yaml && typeof yaml.npmScopes === "object" && yaml.npmScopes !== null ? yaml.npmScopes : {};
  for (const [scope, settings] of Object.entries(scopes)) {
    if (typeof settings === "object" && settings !== null && "npmRegistryServer" in settings && typeof settings.npmRegistryServer === "string") {
      found.scopes[`@${scope.replace(/^@/, "")}`] = expand(settings.npmRegistryServer, env);
    }
  }
  return found;
}

/** npm-style sources, highest precedence first: env, the project's .npmrc, the user's. */
function npmSources(dir: string, env: Env, home: string): Registries[] {
  const fromEnv: Registries = { scopes: {} };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined || !/^npm_config_/i.test(key)) continue;
    const setting = key.slice("npm_config_".length).toLowerCase();
    if (setting === "registry") fromEnv.registry = value;
    const scoped = /^(@[^:]+):registry$/.exec(setting);
    if (scoped?.[1]) fromEnv.scopes[scoped[1]] = value;
  }
  const userconfig = env.npm_config_userconfig ?? env.NPM_CONFIG_USERCONFIG ?? join(home, ".npmrc");
  return [fromEnv, ...[join(dir, ".npmrc"), userconfig].map((file) => parseNpmrc(readIfPresent(file) ?? "", env))];
}

function berrySources(dir: string, env: Env, home: string): Registries[] {
  const sources: Registries[] = [{ ...(env.YARN_NPM_REGISTRY_SERVER ? { registry: env.YARN_NPM_REGISTRY_SERVER } : {}), scopes: {} }];
  for (let folder = resolve(dir); ; folder = dirname(folder)) {
    const text = readIfPresent(join(folder, ".yarnrc.yml"));
    if (text !== undefined) sources.push(parseYarnrcYml(text, env));
    if (dirname(folder) === folder) break;
  }
  sources.push(parseYarnrcYml(readIfPresent(join(home, ".yarnrc.yml")) ?? "", env));
  return sources;
}

function bunSources(dir: string, env: Env, home: string): Registries[] {
  const registry = env.BUN_CONFIG_REGISTRY ?? env.NPM_CONFIG_REGISTRY ?? env.npm_config_registry;
  const global = env.XDG_CONFIG_HOME ? join(env.XDG_CONFIG_HOME, ".bunfig.toml") : join(home, ".bunfig.toml");
  return [
    { ...(registry ? { registry } : {}), scopes: {} },
    ...[join(dir, "bunfig.toml"), global].map((file) => parseBunfig(readIfPresent(file) ?? "", env)),
    ...npmSources(dir, env, home),
  ];
}

/**
 * The registry base URL `manager` would fetch `name` from in the project at `dir`. Config files
 * are read once, when this is called.
 */
export function configuredRegistry(dir: string, manager: Manager, env: Env = process.env, home: string = homedir()): (name: string) => string | undefined {
  const sources =
    manager === "yarn-berry"
      ? berrySources(dir, env, home)
      : manager === "bun"
        ? bunSources(dir, env, home)
        : manager === "yarn-classic"
          ? [...[join(dir, ".yarnrc"), join(home, ".yarnrc")].map((file) => parseYarnrc(readIfPresent(file) ?? "", env)), ...npmSources(dir, env, home)]
          : npmSources(dir, env, home);
  const fallback = manager === "yarn-berry" || manager === "yarn-classic" ? YARN_DEFAULT_REGISTRY : NPM_DEFAULT_REGISTRY;
  return (name) => {
    const scope = name.startsWith("@") ? name.slice(0, name.indexOf("/")) : undefined;
    // A scope's registry anywhere beats the default registry anywhere (as in npm and yarn).
    const scoped = scope ? sources.find((s) => s.scopes[scope])?.scopes[scope] : undefined;
    const url = scoped ?? sources.find((s) => s.registry)?.registry ?? fallback;
    return trimSlash(url);
  };
}
