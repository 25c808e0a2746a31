// Runs the test suite (vitest: unit, worker, e2e) under other Node.js majors, e.g.
//   npm run test:node -- 22 24
//   npm run test:node -- 24 -- --project unit test/core     (vitest's arguments after a second --)
// The Node binaries come from the npm registry's node-<platform>-<arch> packages (the same
// builds nodejs.org publishes), cached in node_modules/.cache/countersign-node/<version>/.
// Everything the tests spawn (the client, npm start, npm, pnpm, yarn, bun) runs on that Node too,
// because its bin directory goes first on PATH. Prints one line per version and exits non-zero if
// any failed.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cleanEnv } from "./clean-env.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dashes = process.argv.indexOf("--", 2);
const majors = dashes === -1 ? process.argv.slice(2) : process.argv.slice(2, dashes);
const vitestArgs = dashes === -1 ? [] : process.argv.slice(dashes + 1);
if (majors.length === 0 || majors.some((m) => !/^\d+$/.test(m))) {
  process.stderr.write("usage: npm run test:node -- <major> [<major>...]   (e.g. 22 24)\n");
  process.exit(2);
}
const pkg = `node-${process.platform}-${process.arch}`;
const env = cleanEnv();
const run = (command, args, options = {}) => spawnSync(command, args, { encoding: "utf8", env, ...options });

function nodeBin(major) {
  const versions = run("npm", ["view", `${pkg}@${major}`, "version", "--json"]);
  if (versions.status !== 0) throw new Error(`npm view ${pkg}@${major}: ${versions.stderr.trim().split("\n").pop()}`);
  // The newest of the major: npm lists matching versions in no useful order.
  const numeric = (v) => v.split(".").map(Number);
  const newer = (a, b) => { const [x, y] = [numeric(a), numeric(b)]; return x[1] - y[1] || x[2] - y[2]; };
  const version = [JSON.parse(versions.stdout)].flat().filter((v) => /^\d+\.\d+\.\d+$/.test(v)).sort(newer).pop();
  if (!version) throw new Error(`no release of Node ${major} in ${pkg}`);
  const dir = join(root, "node_modules", ".cache", "countersign-node", version);
  const bin = join(dir, "package", "bin");
  if (!existsSync(join(bin, "node"))) {
    mkdirSync(dir, { recursive: true });
    const packed = run("npm", ["pack", `${pkg}@${version}`, "--json", "--pack-destination", dir]);
    if (packed.status !== 0) throw new Error(`npm pack ${pkg}@${version}: ${packed.stderr.trim().split("\n").pop()}`);
    const [{ filename }] = JSON.parse(packed.stdout);
    const untar = run("tar", ["xzf", join(dir, filename), "-C", dir]);
    if (untar.status !== 0) throw new Error(`tar: ${untar.stderr}`);
  }
  return { version, bin };
}

const build = run("node", [join(root, "scripts", "build.mjs")], { stdio: "inherit" });
if (build.status !== 0) process.exit(1);
const results = [];
for (const major of majors) {
  const { version, bin } = nodeBin(major);
  process.stdout.write(`\n== Node ${version} ==\n`);
  // Under CI, vitest's JSON report goes to test-results-node<major>.json (.ci/run adds it up).
  const tests = spawnSync(join(root, "node_modules", ".bin", "vitest"), ["run", ...vitestArgs], {
    cwd: root,
    stdio: "inherit",
    env: { ...env, PATH: `${bin}:${env.PATH}`, COUNTERSIGN_TEST_RESULTS: `test-results-node${major}.json` },
  });
  results.push(`Node ${version}: ${tests.status === 0 ? "passed" : `FAILED (exit ${tests.status})`}`);
}
process.stdout.write(`\n${results.join("\n")}\n`);
process.exit(results.every((line) => line.endsWith("passed")) ? 0 : 1);
