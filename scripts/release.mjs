// `npm run release [-- --name @scope/name] [--out DIR] [--no-build] [--json]`
//
// Packs the client as a self-contained npm tarball, release/countersign-<version>.tgz, and prints
// its path, sha512 integrity and size. The package has no dependencies at all (dist/ is fully
// bundled), so installing it — `npm install -D ./countersign-<version>.tgz`, or `-g` — asks no
// registry for anything and pulls in nothing a pins file would have to allow.
//
// The tarball is packed from a staging directory holding exactly package.json "files" and a
// package.json reduced to what an installed package needs (no scripts, no devDependencies): no
// lifecycle script can run when it is installed. It stays "private": `npm publish` refuses it,
// so the name `countersign` is never pushed to a public registry by accident — nobody controls
// that name there for this project.
//
// --name @acme/countersign repacks the same files under the team's own name, to publish on the
// team's countersign registry with `countersign publish release/acme-countersign-<version>.tgz`
// (publisher-signed like any package); consumers then install it through their pins.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { cleanEnv } from "./clean-env.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function fail(message, code = 2) {
  process.stderr.write(`release: ${message}\n`);
  process.exit(code);
}

let args;
try {
  args = parseArgs({
    args: process.argv.slice(2),
    options: { name: { type: "string" }, out: { type: "string" }, "no-build": { type: "boolean" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    strict: true,
  }).values;
} catch (err) {
  fail(`${err.message.split("\n")[0]}\nusage: npm run release -- [--name @scope/name] [--out DIR] [--no-build] [--json]`);
}
if (args.help) {
  process.stdout.write("usage: npm run release -- [--name @scope/name] [--out DIR] [--no-build] [--json]\n");
  process.exit(0);
}

const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const name = args.name ?? pkg.name;
// npm's rules for a new package name: lowercase, URL-safe, at most 214 characters, optional @scope/.
if (!/^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/.test(name) || name.length > 214) fail(`--name "${name}" is not a valid package name (lowercase, e.g. @acme/countersign)`);
const out = resolve(root, args.out ?? "release");

if (!args["no-build"]) {
  const built = spawnSync(process.execPath, [join(root, "scripts", "build.mjs")], { stdio: "inherit" });
  if (built.status !== 0) fail("the build failed", 3);
}

// What an installed client needs, and nothing else.
const manifest = {
  name,
  version: pkg.version,
  description: pkg.description,
  license: pkg.license,
  type: pkg.type,
  private: true,
  engines: pkg.engines,
  bin: { countersign: pkg.bin.countersign },
  exports: pkg.exports,
  files: pkg.files,
};
if (pkg.dependencies && Object.keys(pkg.dependencies).length) fail(`package.json has runtime dependencies (${Object.keys(pkg.dependencies).join(", ")}): the client must be self-contained (bundle them, make them devDependencies)`, 3);

/** The files under dist/chunks/ that the packed .mjs entry points import, transitively (paths from the root). */
function reachableChunks() {
  const seen = new Set();
  const queue = pkg.files.filter((f) => f.endsWith(".mjs")).map((f) => join(root, f)).filter((f) => existsSync(f));
  while (queue.length) {
    const file = queue.pop();
    for (const [, spec] of readFileSync(file, "utf8").matchAll(/["'](\.{1,2}\/(?:chunks\/)?[\w.-]+\.mjs)["']/g)) {
      const target = resolve(dirname(file), spec);
      const rel = relative(root, target).split("\\").join("/");
      if (!rel.startsWith("dist/chunks/") || seen.has(rel)) continue;
      if (!existsSync(target)) fail(`${relative(root, file)} imports ${spec}, which the build did not write`, 3);
      seen.add(rel);
      queue.push(target);
    }
  }
  return [...seen].sort();
}

const stage = mkdtempSync(join(tmpdir(), "countersign-release-"));
try {
  for (const entry of pkg.files) {
    const from = join(root, entry);
    if (!existsSync(from)) fail(`${entry} (package.json "files") does not exist: run the build`, 3);
    // dist/chunks/ also holds chunks of earlier builds: only the ones the entry points load are packed.
    if (entry.replace(/\/$/, "") === "dist/chunks") for (const chunk of reachableChunks()) cpSync(join(root, chunk), join(stage, chunk));
    else cpSync(from, join(stage, entry), { recursive: true });
  }
  writeFileSync(join(stage, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  // Conditional exports ({ ".": { bun: "./dist/…" } }) are walked down to their file paths.
  const exportTargets = (value) => (typeof value === "string" ? [value] : Object.values(value ?? {}).flatMap(exportTargets));
  for (const target of [manifest.bin.countersign, ...exportTargets(pkg.exports)]) if (!existsSync(join(stage, target))) fail(`${target} (package.json "bin"/"exports") is not among the packed files`, 3);
  mkdirSync(out, { recursive: true });

  const env = cleanEnv();
  const packed = spawnSync("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", out], { cwd: stage, encoding: "utf8", env });
  if (packed.status !== 0) fail(`npm pack failed: ${packed.stderr.trim().split("\n").pop()}`, 3);
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf("[")));
  const file = join(out, info.filename);
  const bytes = readFileSync(file);
  const result = {
    name,
    version: pkg.version,
    path: file,
    integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}`,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    size: statSync(file).size,
    files: info.files.map((f) => f.path).sort(),
  };
  if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else {
    process.stdout.write(
      [
        `packed ${name}@${pkg.version} (${result.files.length} files, no dependencies)`,
        `  path       ${relative(process.cwd(), file) || file}`,
        `  integrity  ${result.integrity}`,
        `  size       ${result.size} bytes`,
        "",
        "install it in a project:   npm install -D <path>      (or globally: npm install -g <path>)",
        ...(args.name ? [`publish it, signed:        countersign publish ${relative(process.cwd(), file) || file} --registry <your registry>`] : []),
        "",
      ].join("\n"),
    );
  }
} finally {
  rmSync(stage, { recursive: true, force: true });
}
